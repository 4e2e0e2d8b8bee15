import CaaSCrypto
import CaaSHTTP
import CaaSModel
import CaaSStore
import Foundation
import Logging
import Synchronization

/// The control plane's side of the agent channel, wired together: the certificate authorities,
/// the mTLS listener agents call, the push directory the scheduler's workers use, and the public
/// routes (join, the cluster's agent, container logs).
///
///     let channel = try await AgentChannelService.start(store: store, secretsKey: resources.secretsKey,
///                                                       settings: settings, signal: signal, quotas: quotas, logger: logger)
///     let plane = ControlPlane(…, additionalRoutes: channel.routes)
///     let workers = SchedulerWorkers(…, agents: channel.directory, …)
public final class AgentChannelService: Sendable {
    public let store: Store
    public let settings: AgentChannelSettings
    public let certificates: AgentCertificates
    public let authenticator: CertificateAgentAuthenticator
    public let endpoints: AgentEndpoints
    public let directory: MTLSAgentDirectory
    public let files: AgentCertificates.IdentityFiles
    public let logger: Logger
    let quotas: QuotaDefaults
    let joinFailures: RateLimiter
    private let server = Mutex<HTTPServer?>(nil)
    private let boundURL = Mutex<String?>(nil)
    private let monitor = Mutex<Task<Void, Never>?>(nil)

    init(store: Store, settings: AgentChannelSettings, certificates: AgentCertificates, files: AgentCertificates.IdentityFiles,
         signal: any JobSignal, secretsKey: [UInt8], quotas: QuotaDefaults, logger: Logger) throws {
        self.store = store
        self.settings = settings
        self.certificates = certificates
        self.files = files
        self.quotas = quotas
        self.logger = logger
        authenticator = CertificateAgentAuthenticator(store: store, certificates: certificates)
        endpoints = AgentEndpoints(store: store, authenticator: authenticator, signal: signal, secretsKey: secretsKey, logger: logger)
        directory = try MTLSAgentDirectory(store: store, files: files, pushTimeout: settings.pushTimeout)
        joinFailures = RateLimiter(ratePerSecond: settings.joinFailurePerSecond, burst: settings.joinFailureBurst)
    }

    /// Loads (or makes) the CAs, writes the control plane's identities, and starts the listener.
    public static func start(store: Store, secretsKey: [UInt8], settings: AgentChannelSettings, signal: any JobSignal,
                             quotas: QuotaDefaults, logger: Logger) async throws -> AgentChannelService {
        let certificates = try await AgentCertificates.load(store: store, secretsKey: secretsKey)
        var names = ["127.0.0.1", "::1", "localhost"] + settings.listenerNames
        if !["0.0.0.0", "::"].contains(settings.listenHost) { names.append(settings.listenHost) }
        if let host = settings.advertisedURL.flatMap(CertificateNames.host(ofURL:)) { names.append(host) }
        let files = try certificates.writeControlPlaneIdentities(names: names, validity: settings.controlPlaneCertificateValidity)
        let service = try AgentChannelService(store: store, settings: settings, certificates: certificates, files: files,
                                              signal: signal, secretsKey: secretsKey, quotas: quotas, logger: logger)
        let tls = TLSConfiguration(certificateChainFile: files.listenerCertificate, privateKeyFile: files.listenerKey,
                                   trustedCAFile: files.trustAnchor, requireClientCertificate: true)
        let configuration = HTTPServerConfiguration(addresses: [.tcp(host: settings.listenHost, port: settings.listenPort)],
                                                    eventLoopCount: 1, handlerExecution: .globalExecutor, tls: tls)
        let server = try HTTPServer(configuration: configuration, responder: AgentListenerResponder(service: service),
                                    logger: logger.with("listener", "agents"))
        try server.start()
        service.server.withLock { $0 = server }
        service.boundURL.withLock { $0 = settings.agentURL(boundPort: server.port ?? settings.listenPort) }
        let silence = settings.agentDisconnectedAfter
        service.monitor.withLock { $0 = Task { [store, logger] in
            // Any replica may run this: the update is idempotent.
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int64(silence * 500)))
                if let quiet = try? await store.systemTransaction({ try $0.markSilentAgentsDisconnected(after: silence) }), !quiet.isEmpty {
                    logger.notice("agents disconnected (no call for \(silence) s)", metadata: ["clusters": "\(quiet)"])
                }
            }
        } }
        logger.info("agent channel listening", metadata: ["url": .string(service.agentURL)])
        return service
    }

    /// The URL agents are told to call.
    public var agentURL: String { boundURL.withLock { $0 } ?? settings.agentURL(boundPort: settings.listenPort) }

    /// The public API routes of the agent channel (give them to `ControlPlane(additionalRoutes:)`).
    public var routes: [APIRoute] { AgentChannelRoutes.all(self) }

    /// Stops the listener and removes the identity files.
    public func shutdown() async {
        monitor.withLock { $0?.cancel() }
        let server = self.server.withLock { $0 }
        await server?.shutdown(gracePeriod: .seconds(2))
        directory.shutdown()
        files.remove()
    }

    // MARK: Enrollment

    static func agentID() -> String { "agt_" + Identifier.make(.job).dropFirst(4) }

    /// `POST /v1/agent/join` (public API): the join token opens its cluster; the request's key is
    /// signed by the cluster's CA; the agent is recorded (replacing an earlier one).
    func join(token: String, body: [UInt8], clientAddress: String) async throws -> IssuedCertificateBody {
        let digest = SHA256.hash(token)
        let cluster = try await store.systemTransaction { try $0.clusterForJoinToken(digest: digest) }
        guard token.hasPrefix("caas_join_"), let cluster, ConstantTime.equals(cluster.joinTokenDigest, digest) else {
            // Only failures count and only failures are throttled: a valid token always joins,
            // however much garbage others sent from the same address (a NAT, a load balancer).
            if case .limited(let retryAfter) = joinFailures.take(clientAddress) {
                throw APIError.tooManyRequests(retryAfter: retryAfter, detail: "too many failed joins from \(clientAddress)")
            }
            logger.notice("join refused: unknown join token", metadata: ["client": .string(clientAddress)])
            throw APIError.invalidToken("the join token is not valid (rotated, or never issued)")
        }
        let expiresAt = cluster.joinTokenCreatedAt.addingTimeInterval(settings.joinTokenTTL)
        guard expiresAt > Date() else {
            logger.notice("join refused: expired join token", metadata: ["cluster.id": .string(cluster.id), "client": .string(clientAddress)])
            throw APIError.invalidToken("the join token of cluster \(cluster.name) expired at \(RFC3339.format(expiresAt)); issue a fresh one with POST /v1/clusters/\(cluster.id)/join-token")
        }
        guard cluster.tenantStatus == "active" else { throw APIError.forbidden("the tenant is suspended: its clusters take no joins") }
        guard cluster.status != "deleting" else { throw APIError.conflict("cluster \(cluster.name) is being deleted") }
        let request = try Self.decode(CertificateRequestBody.self, body)
        try Self.checkEndpoint(request.endpoint)
        let csr = try Self.parseRequest(request.csr)
        let agentID = Self.agentID()
        let issued = try await certificates.issueAgentCertificate(csr, clusterID: cluster.id, tenantID: cluster.tenantID, agentID: agentID,
                                                                  endpoint: request.endpoint, validity: settings.agentCertificateValidity)
        let agent = NewAgent(id: agentID, clusterID: cluster.id, tenantID: cluster.tenantID, hostname: String(request.hostname.prefix(255)),
                             endpoint: request.endpoint, certificateSerial: issued.certificate.serialNumber,
                             certificateExpiresAt: issued.certificate.notAfter)
        try await store.systemTransaction { tx in
            try tx.registerAgent(agent)
            try tx.updateAgent(agentID: agentID, endpoint: nil, version: request.agentVersion)
            try tx.recordAudit(Self.auditEntry("agents.join", tenantID: cluster.tenantID, agentID: agentID, by: "join token of \(cluster.name)",
                                               path: "/v1/agent/join"))
        }
        logger.info("agent joined", metadata: ["cluster.id": .string(cluster.id), "agent.id": .string(agentID),
                                               "serial": .string(agent.certificateSerial)])
        return IssuedCertificateBody(agentId: agentID, clusterId: cluster.id, certificateChain: issued.body.chain, trustAnchor: issued.body.anchor,
                                     agentApiUrl: agentURL, certificateExpiresAt: agent.certificateExpiresAt, certificateSerial: agent.certificateSerial)
    }

    /// `POST /v1/agent/renew` (mTLS): a fresh certificate for a fresh key, same identity.
    func renew(body: [UInt8], credentials: AgentCredentials) async throws -> [UInt8] {
        let agent = try await authenticator.agent(for: credentials)
        let request = try Self.decode(CertificateRequestBody.self, body)
        try Self.checkEndpoint(request.endpoint)
        let csr = try Self.parseRequest(request.csr)
        let issued = try await certificates.issueAgentCertificate(csr, clusterID: agent.clusterID, tenantID: agent.tenantID, agentID: agent.agentID,
                                                                  endpoint: request.endpoint, validity: settings.agentCertificateValidity)
        let serial = issued.certificate.serialNumber, expires = issued.certificate.notAfter
        try await store.systemTransaction { tx in
            try tx.recordRenewal(agentID: agent.agentID, serial: serial, expiresAt: expires)
            try tx.updateAgent(agentID: agent.agentID, endpoint: request.endpoint, version: request.agentVersion)
            try tx.recordAudit(Self.auditEntry("agents.renew", tenantID: agent.tenantID, agentID: agent.agentID,
                                               by: "agent \(agent.agentID)", path: "/v1/agent/renew"))
        }
        directory.forget(agent.clusterID)
        logger.info("agent certificate renewed", metadata: ["agent.id": .string(agent.agentID), "serial": .string(serial)])
        return Array(try AgentWire.encoder().encode(IssuedCertificateBody(
            agentId: agent.agentID, clusterId: agent.clusterID, certificateChain: issued.body.chain, trustAnchor: issued.body.anchor,
            agentApiUrl: agentURL, certificateExpiresAt: expires, certificateSerial: serial)))
    }

    /// `POST /v1/agent/nodes` (mTLS): registers the agent's nodes; answers every node of its cluster.
    func registerNodes(body: [UInt8], credentials: AgentCredentials) async throws -> [UInt8] {
        let agent = try await authenticator.agent(for: credentials)
        let registration = try Self.decode(NodeRegistrationBody.self, body)
        try Self.checkEndpoint(registration.endpoint)
        for node in registration.nodes {
            guard !node.name.isEmpty, node.name.count <= 63, case .success = EngineEndpoint.parse(node.engineEndpoint) else {
                throw AgentAPIError.badBody("node \(node.name): a name of 1 to 63 characters and an engine endpoint (unix:///path, tcp://host:port)")
            }
        }
        let quotas = self.quotas
        let nodes = try await store.systemTransaction { tx -> [AgentNodeRecord] in
            try tx.updateAgent(agentID: agent.agentID, endpoint: registration.endpoint, version: registration.agentVersion)
            return try tx.registerAgentNodes(clusterID: agent.clusterID, tenantID: agent.tenantID,
                                             nodes: registration.nodes.map { ($0.name, $0.engineEndpoint) }, quotas: quotas)
        }
        directory.forget(agent.clusterID)
        return Array(try AgentWire.encoder().encode(NodeRegistrationBody(
            nodes: nodes.map { .init(id: $0.id, name: $0.name, engineEndpoint: $0.engineEndpoint) })))
    }

    /// Joins and renewals in the tenant's audit log (revocations are API calls, audited as such).
    static func auditEntry(_ action: String, tenantID: String, agentID: String, by who: String, path: String) -> AuditEntry {
        AuditEntry(tenantID: tenantID, tokenID: nil, tokenName: who, action: action, target: agentID, method: "POST", path: path,
                   outcome: 200, requestID: "")
    }

    /// Agent endpoints are `https://host:port` only (`AgentEndpointRule`).
    static func checkEndpoint(_ endpoint: String?) throws {
        if let endpoint, let problem = AgentEndpointRule.problem(endpoint) { throw AgentAPIError.badBody(problem) }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do {
            return try AgentWire.decoder().decode(type, from: Data(body))
        } catch {
            throw AgentAPIError.badBody("\(error)")
        }
    }

    static func parseRequest(_ pem: String) throws -> CertificateSigningRequest {
        guard pem.utf8.count < 16_384, let request = try? CertificateSigningRequest(pem: pem) else {
            throw AgentAPIError.badBody("csr is not a PEM certificate request")
        }
        return request
    }
}
