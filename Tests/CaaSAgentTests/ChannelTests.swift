import CaaSCrypto
import CaaSHTTP
import CaaSModel
import Foundation
import Logging
import Testing
@testable import CaaSAgent

/// The agent's side of the channel without a control plane: port assignment, renewal timing,
/// and its mTLS push endpoint refusing every caller but the control plane.
@Suite struct ChannelTests {
    static func container(_ id: String, slot: Int = 1, ports: [DesiredPort] = [], probe: Probe? = nil,
                          environment: [EnvironmentVariable] = []) -> DesiredContainer {
        DesiredContainer(containerId: id, tenantId: "ten_x", appId: "app_x", appName: "shop", serviceName: "web", slot: slot, generation: 1,
                         image: "busybox", environment: environment, network: .host, ports: ports, probe: probe)
    }

    static func env(_ container: DesiredContainer, _ name: String) -> String? {
        container.environment.last { $0.name == name }?.value
    }

    @Test func everyHostNetworkContainerGetsItsOwnStablePortAndItsProbeFollows() {
        let assignment = PortAssignment(range: 20_000..<20_010)
        let probe = Probe(check: .http(port: 80, path: "/health"))
        let state = DesiredClusterState(clusterId: "clu_a", generation: 1, nodes: [
            DesiredNodeState(nodeId: "n1", containers: (1...5).map { Self.container("ctr_\($0)", slot: $0, probe: probe) }),
            DesiredNodeState(nodeId: "n2", containers: [Self.container("ctr_p", ports: [DesiredPort(containerPort: 8080, hostPort: 8080)]),
                                                        Self.container("ctr_e", environment: [EnvironmentVariable(name: "PORT", value: "9999")])]),
        ])
        let first = assignment.decorate(state)
        let all = first.nodes.flatMap(\.containers)
        let ports = all.filter { $0.ports.isEmpty }.compactMap { Self.env($0, "CAAS_PORT").flatMap(Int.init) }
        #expect(ports.count == 6)
        #expect(Set(ports).count == 6, "ports are distinct: \(ports)")
        #expect(ports.allSatisfy { (20_000..<20_010).contains($0) })
        for container in all where container.ports.isEmpty {
            if case .http(let port, let path) = container.probe?.check {
                #expect(String(port) == Self.env(container, "PORT"))
                #expect(path == "/health")
            }
            #expect(Self.env(container, "CAAS_CONTAINER_ID") == container.containerId)
        }
        let published = all.first { $0.containerId == "ctr_p" }!
        #expect(Self.env(published, "PORT") == "8080")
        #expect(Self.env(all.first { $0.containerId == "ctr_e" }!, "PORT") == "9999", "the spec's own PORT wins")
        #expect(Self.env(all.first { $0.containerId == "ctr_3" }!, "CAAS_NODE_ID") == "n1")
        // A later push with one container more keeps every earlier port.
        var grown = state
        grown.nodes[0].containers.append(Self.container("ctr_0", slot: 6))
        let second = assignment.decorate(grown).nodes.flatMap(\.containers)
        for container in all where container.ports.isEmpty {
            #expect(Self.env(second.first { $0.containerId == container.containerId }!, "CAAS_PORT") == Self.env(container, "CAAS_PORT"))
        }
        // Another agent (a restart) derives the same ports from the same state.
        let again = PortAssignment(range: 20_000..<20_010).decorate(state).nodes.flatMap(\.containers)
        #expect(again.map { Self.env($0, "CAAS_PORT") } == all.map { Self.env($0, "CAAS_PORT") })
    }

    @Test func renewalIsDueAtTwoThirdsOfTheLifeOrWhenTheEndpointHostIsMissing() throws {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let due = CertificateRenewal.renewalTime(notBefore: start, notAfter: start.addingTimeInterval(900))
        #expect(due == start.addingTimeInterval(600))
        let ca = try CertificateAuthority.create(commonName: "root")
        let leaf = try ca.issue(for: try PrivateKey.generateP256().publicKey, commonName: "a", names: .init(uris: ["caas://control-plane"], ipAddresses: ["127.0.0.1"]),
                                usage: .client, validity: 3 * 3600)
        #expect(!CertificateRenewal.isDue(leaf, endpointHost: "127.0.0.1"))
        #expect(CertificateRenewal.isDue(leaf, endpointHost: "127.0.0.9"))
        #expect(CertificateRenewal.isDue(leaf, endpointHost: nil, now: Date().addingTimeInterval(2 * 3600 + 60)))
    }

    /// A root, a cluster CA, the agent's identity in a state directory, and control-plane files.
    struct Identities {
        let root: CertificateAuthority
        let directory: AgentStateDirectory
        let files: String

        init() throws {
            root = try CertificateAuthority.create(commonName: "caas control plane CA")
            let cluster = try CertificateAuthority.create(commonName: "caas cluster clu_a CA", issuer: root)
            files = FileManager.default.temporaryDirectory.appendingPathComponent("caas-channel-test-\(UUID().uuidString.prefix(8))").path
            directory = AgentStateDirectory(path: files + "/agent")
            try directory.prepare()
            let key = try PrivateKey.generateP256()
            let leaf = try cluster.issue(for: key.publicKey, commonName: "agt_1",
                                         names: .init(uris: [CaaSIdentity.agent(clusterID: "clu_a", agentID: "agt_1").uri], ipAddresses: ["127.0.0.1"]),
                                         usage: .clientAndServer, validity: 3600)
            let issued = IssuedCertificateBody(agentId: "agt_1", clusterId: "clu_a", certificateChain: try leaf.pem() + cluster.certificate.pem(),
                                               trustAnchor: try root.certificate.pem(), agentApiUrl: "https://127.0.0.1:1",
                                               certificateExpiresAt: leaf.notAfter, certificateSerial: leaf.serialNumber)
            try directory.save(issued: issued, key: key, serverURL: "http://127.0.0.1:1", endpoint: nil, renewal: false)
        }

        /// A client presenting a certificate with `identity` from `issuer`.
        func client(_ identity: CaaSIdentity, issuer: CertificateAuthority) throws -> HTTPClient {
            let key = try PrivateKey.generateP256()
            let certificate = try issuer.issue(for: key.publicKey, commonName: "client", names: .init(uris: [identity.uri]), usage: .client, validity: 3600)
            let name = UUID().uuidString.prefix(8)
            // The chain a client presents: its certificate, then its issuer unless that is the root.
            let chain = try certificate.pem() + (issuer.certificate.isSigned(by: issuer.certificate) ? "" : try issuer.certificate.pem())
            try AgentStateDirectory.writePrivate(Array(chain.utf8), to: files + "/\(name).pem")
            try AgentStateDirectory.writePrivate(Array((try key.pem()).utf8), to: files + "/\(name)-key.pem")
            let tls = TLSConfiguration(certificateChainFile: files + "/\(name).pem", privateKeyFile: files + "/\(name)-key.pem",
                                       trustedCAFile: directory.trustAnchorPath)
            return try HTTPClient(configuration: HTTPClientConfiguration(tls: tls, connectTimeout: .seconds(3)))
        }
    }

    @Test func thePushEndpointServesOnlyTheControlPlane() async throws {
        let identities = try Identities()
        defer { if ProcessInfo.processInfo.environment["KEEP"] == nil { try? FileManager.default.removeItem(atPath: identities.files) } }
        let agent = ClusterAgent(configuration: AgentConfiguration(clusterId: "clu_a"), nodes: [],
                                 makeTransport: { _ in fatalError("no engines") }, reporter: ClosureReporter { _ in }, ports: PortAssignment())
        var logger = Logger(label: "test.channel")
        logger.logLevel = .error
        let server = AgentChannelServer(directory: identities.directory, host: "127.0.0.1", port: try FreePort.pick(host: "127.0.0.1"),
                                        agent: agent, logger: logger)
        try server.start()
        let url = "https://127.0.0.1:\(server.port!)"
        let state = Array(try AgentWire.encoder().encode(DesiredClusterState(clusterId: "clu_a", generation: 3, nodes: [])))

        let controlPlane = try identities.client(.controlPlane, issuer: identities.root)
        let pushed = try await controlPlane.execute(try HTTPClientRequest(method: .put, url: url + "/agent/v1/desired-state", body: .bytes(state)))
        #expect(pushed.status == 200, "\(pushed.bodyText)")
        let ack = try AgentWire.decoder().decode(PushAcknowledgementBody.self, from: Data(pushed.body))
        #expect(ack == PushAcknowledgementBody(applied: true, appliedGeneration: 3))
        #expect(CaaSIdentity(certificateURIs: pushed.peerCertificate?.uris ?? []) == .agent(clusterID: "clu_a", agentID: "agt_1"))
        // An older generation is acknowledged as not applied (the fence).
        let stale = Array(try AgentWire.encoder().encode(DesiredClusterState(clusterId: "clu_a", generation: 2, nodes: [])))
        let fenced = try await controlPlane.execute(try HTTPClientRequest(method: .put, url: url + "/agent/v1/desired-state", body: .bytes(stale)))
        #expect(try AgentWire.decoder().decode(PushAcknowledgementBody.self, from: Data(fenced.body)).applied == false)
        // Another cluster's state is refused.
        let foreign = Array(try AgentWire.encoder().encode(DesiredClusterState(clusterId: "clu_b", generation: 9, nodes: [])))
        let refused = try await controlPlane.execute(try HTTPClientRequest(method: .put, url: url + "/agent/v1/desired-state", body: .bytes(foreign)))
        #expect(refused.status == 409)
        let logs = try await controlPlane.execute(try HTTPClientRequest(url: url + "/agent/v1/containers/ctr_nothere/logs"))
        #expect(logs.status == 404)

        // An agent certificate from the same tree is not the control plane.
        let cluster = try CertificateAuthority.create(commonName: "caas cluster clu_b CA", issuer: identities.root)
        let otherAgent = try identities.client(.agent(clusterID: "clu_b", agentID: "agt_2"), issuer: cluster)
        let forbidden = try await otherAgent.execute(try HTTPClientRequest(method: .put, url: url + "/agent/v1/desired-state", body: .bytes(state)))
        #expect(forbidden.status == 403)
        // A control-plane identity from a stranger CA fails the handshake.
        let stranger = try identities.client(.controlPlane, issuer: try CertificateAuthority.create(commonName: "caas control plane CA"))
        await #expect(throws: (any Error).self) {
            _ = try await stranger.execute(try HTTPClientRequest(method: .put, url: url + "/agent/v1/desired-state", body: .bytes(state)))
        }
        #expect(await agent.appliedGeneration == 3)
        // After a renewal the server restarts on the same port.
        let port = server.port
        try await server.restart()
        #expect(server.port == port)
        let again = try identities.client(.controlPlane, issuer: identities.root)
        let afterRestart = try await again.execute(try HTTPClientRequest(method: .put, url: url + "/agent/v1/desired-state", body: .bytes(state)))
        #expect(afterRestart.status == 200)
        for client in [controlPlane, otherAgent, stranger, again] { client.shutdown() }
        await server.shutdown()
    }
}

@Suite struct JoinTrustTests {
    static let anchor = String(repeating: "0f", count: 32)

    @Test func overPlainHTTPAJoinNeedsAFingerprintOrInsecureJoin() {
        #expect(JoinTrust.channel.refusalBeforeSending(authenticatedChannel: true) == nil)
        #expect(JoinTrust.channel.refusalBeforeSending(authenticatedChannel: false)?.contains("--ca-fingerprint") == true)
        #expect(JoinTrust.insecure.refusalBeforeSending(authenticatedChannel: false) == nil)
        #expect(JoinTrust.fingerprint(Self.anchor).refusalBeforeSending(authenticatedChannel: false) == nil)
        #expect(JoinTrust.fingerprint("abc").refusalBeforeSending(authenticatedChannel: false)?.contains("64 digits") == true)
        #expect(JoinTrust.fingerprint(String(repeating: "zz", count: 32)).refusalBeforeSending(authenticatedChannel: true) != nil)
    }

    @Test func theAnswersAnchorMustBeTheExpectedOne() {
        let colons = stride(from: 0, to: 64, by: 2).map { i in String(Self.anchor.uppercased().dropFirst(i).prefix(2)) }.joined(separator: ":")
        #expect(JoinTrust.fingerprint(colons).refusal(ofAnchor: Self.anchor) == nil, "case and colons do not matter")
        #expect(JoinTrust.fingerprint(Self.anchor).refusal(ofAnchor: String(repeating: "ab", count: 32))?.contains("not joining") == true)
        #expect(JoinTrust.insecure.refusal(ofAnchor: "anything") == nil)
        #expect(JoinTrust.channel.refusal(ofAnchor: "anything") == nil)
    }
}
