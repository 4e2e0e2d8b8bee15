import CaaSAgent
import CaaSCrypto
import CaaSHTTP
import CaaSModel
import CaaSPostgres
@testable import CaaSServer
import CaaSStore
import CaaSTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// The control plane's API on a real loopback socket with the agent channel wired in (CAs, mTLS
/// listener, routes), on a fresh migrated database. Agents are the real agent-side code.
final class AgentChannelHarness: @unchecked Sendable {
    let api: APIHarness
    let channel: AgentChannelService
    let server: HTTPServer
    let plane: ControlPlane
    var url: String { "http://127.0.0.1:\(server.port!)" }
    let directories = Mutex<[String]>([])

    static func make(_ label: String, configure: (inout AgentChannelSettings) -> Void = { _ in }) async throws -> AgentChannelHarness {
        let api = try await APIHarness.make(label)
        var settings = AgentChannelSettings()
        settings.listenPort = 0
        settings.agentDisconnectedAfter = 1
        configure(&settings)
        var logger = Logger(label: "test.agent-channel")
        logger.logLevel = .error
        let channel = try await AgentChannelService.start(store: api.plane.store, secretsKey: api.plane.secretsKey, settings: settings,
                                                          signal: LocalJobSignal(), quotas: api.plane.settings.quotaDefaults, logger: logger)
        let plane = ControlPlane(store: api.plane.store, settings: api.plane.settings, resources: api.plane.resources,
                                 additionalRoutes: channel.routes, logger: logger)
        let server = try HTTPServer(configuration: HTTPServerConfiguration(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1),
                                    responder: plane.makeResponder(), logger: logger)
        try server.start()
        return AgentChannelHarness(api: api, channel: channel, server: server, plane: plane)
    }

    private init(api: APIHarness, channel: AgentChannelService, server: HTTPServer, plane: ControlPlane) {
        self.api = api
        self.channel = channel
        self.server = server
        self.plane = plane
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(1))
        await channel.shutdown()
        for directory in directories.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// A request through the plane with its agent routes (in-process, no socket).
    func call(_ method: String, _ target: String, token: String?, body: String? = nil) async throws -> Reply {
        var fields: [(String, String)] = []
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        if body != nil { fields.append(("Content-Type", "application/json")) }
        let request = HTTPRequest(method: HTTPMethod(rawValue: method), target: target, headers: HTTPHeaders(fields),
                                  body: HTTPRequestBody(bytes: Array((body ?? "").utf8)), connection: HTTPConnectionInfo(remoteAddress: "127.0.0.1:40000"))
        let response = try await plane.makeResponder().respond(to: request, context: RequestContext(logger: Logger(label: "test")))
        return Reply(status: response.status.code, headers: response.headers, body: try await response.collectBody())
    }

    /// A tenant admin token and a cluster with its join token.
    func cluster(_ tenantName: String) async throws -> (admin: String, clusterID: String, joinToken: String) {
        let tenant = try await api.makeTenant(tenantName)
        let admin = tenant.tokens["admin"]!
        let reply = try await api.createCluster(admin, name: "c-\(tenantName)")
        return (admin, try #require(reply["id"]?.stringValue), try #require(reply["join_token"]?.stringValue))
    }

    func stateDirectory() -> AgentStateDirectory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caas-agent-test-\(UUID().uuidString.prefix(8))").path
        directories.withLock { $0.append(path) }
        return AgentStateDirectory(path: path)
    }

    /// Joins a fresh agent with `token`; answers its state directory.
    func join(_ token: String, endpoint: String? = "https://127.0.0.1:7443") async throws -> AgentStateDirectory {
        let directory = stateDirectory()
        try await AgentJoiner(serverURL: url, token: token, trust: .fingerprint(try channel.certificates.root.certificate.sha256Fingerprint()),
                              stateDirectory: directory, endpoint: endpoint).join()
        return directory
    }

    /// A tenant's cluster with a joined agent (its control-plane client, to be shut down) that
    /// registered one node `n1`.
    func joinedWithOneNode(_ tenantName: String) async throws -> (admin: String, clusterID: String, client: ControlPlaneClient, nodeID: String) {
        let (admin, clusterID, token) = try await cluster(tenantName)
        let client = try ControlPlaneClient(directory: try await join(token))
        let nodes = try await client.registerNodes(NodeRegistrationBody(nodes: [.init(name: "n1", engineEndpoint: "unix:///run/a.sock")],
                                                                        endpoint: "https://127.0.0.1:7443"))
        guard let node = nodes.first?.id else {
            client.shutdown()
            throw AgentJoinError.refused(status: 0, detail: "no node registered")
        }
        return (admin, clusterID, client, node)
    }

    static func heartbeat(_ cluster: String) -> Heartbeat {
        Heartbeat(clusterId: cluster, agentVersion: "test", appliedGeneration: 0, sentAt: Date(), nodes: [])
    }
}

@Suite struct AgentChannelTests {
    @Test func aJoinedAgentHoldsACertificateOfItsClusterCAAndItsStateIsPrivate() async throws {
        let h = try await AgentChannelHarness.make("agent_join")
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let directory = try await h.join(token)
        let state = try directory.loadState()
        #expect(state.clusterId == clusterID)
        #expect(state.agentApiUrl == h.channel.agentURL)
        let chain = try Certificate.chain(pem: String(contentsOfFile: directory.certificatePath, encoding: .utf8))
        #expect(CaaSIdentity(certificateURIs: chain[0].uris) == .agent(clusterID: clusterID, agentID: state.agentId))
        #expect(chain[0].ipAddresses == ["127.0.0.1"])
        #expect(chain[1].subjectCommonName == "caas cluster \(clusterID) CA")
        let lifetime = chain[0].notAfter.timeIntervalSince(Date())
        #expect(lifetime > 6.9 * 86_400 && lifetime <= 7 * 86_400)
        try CertificateVerifier.verify(chain[0], intermediates: [chain[1]], roots: [h.channel.certificates.root.certificate])
        for file in [directory.keyPath, directory.certificatePath, directory.trustAnchorPath, directory.statePath] {
            #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600, "\(file)")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int == 0o700)

        // The cluster shows its agent; heartbeats over mTLS mark it connected.
        let client = try ControlPlaneClient(directory: directory)
        defer { client.shutdown() }
        try await client.beat(AgentChannelHarness.heartbeat(clusterID))
        let agent = try await h.call("GET", "/v1/clusters/\(clusterID)/agent", token: admin)
        #expect(agent.status == 200, "\(agent.text)")
        #expect(agent["id"]?.stringValue == state.agentId)
        #expect(agent["connection"]?.stringValue == "connected")
        #expect(agent["certificate_serial"]?.stringValue == chain[0].serialNumber)
        let cluster = try await h.call("GET", "/v1/clusters/\(clusterID)", token: admin)
        #expect(cluster["status"]?.stringValue == "active")
        // Silence: the cluster shows its agent disconnected.
        let quiet = try await h.api.raw { try $0.execute("UPDATE clusters SET agent_seen_at = now() - interval '1 minute' WHERE id = $1", [clusterID]) }
        #expect(quiet == 1)
        var disconnected = false
        for _ in 0..<60 where !disconnected {
            try await Task.sleep(for: .milliseconds(100))
            disconnected = try await h.call("GET", "/v1/clusters/\(clusterID)/agent", token: admin)["connection"]?.stringValue == "disconnected"
        }
        #expect(disconnected)
        // The CA key is stored sealed, never in clear.
        let stored = try await h.api.raw { try $0.query("SELECT encode(sealed_key, 'escape') AS k FROM cluster_authorities").map { try $0.decode("k", as: String.self) } }
        #expect(stored.count == 1)
        #expect(!stored[0].contains("PRIVATE KEY"))
    }

    @Test func aWrongOrRotatedJoinTokenCannotJoinButAJoinedAgentStays() async throws {
        let h = try await AgentChannelHarness.make("agent_rotate")
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let directory = try await h.join(token)
        await #expect(throws: AgentJoinError.self) { _ = try await h.join("caas_join_" + String(repeating: "a", count: 52)) }
        let rotated = try await h.call("POST", "/v1/clusters/\(clusterID)/join-token", token: admin)
        #expect(rotated.status == 200, "\(rotated.text)")
        do {
            _ = try await h.join(token)
            Issue.record("the old join token still joins")
        } catch AgentJoinError.refused(let status, _) {
            #expect(status == 401)
        }
        let client = try ControlPlaneClient(directory: directory)
        defer { client.shutdown() }
        try await client.beat(AgentChannelHarness.heartbeat(clusterID))
        // The new token joins (and replaces the agent: one agent per cluster).
        let newToken = try #require(rotated["join_token"]?.stringValue)
        let second = try await h.join(newToken)
        let client2 = try ControlPlaneClient(directory: second)
        defer { client2.shutdown() }
        try await client2.beat(AgentChannelHarness.heartbeat(clusterID))
        await #expect(throws: AgentJoinError.self) { try await client.beat(AgentChannelHarness.heartbeat(clusterID)) }
    }

    @Test func joinGuessingIsThrottledButARightTokenStillJoins() async throws {
        let h = try await AgentChannelHarness.make("agent_join_guess") { $0.joinFailureBurst = 2; $0.joinFailurePerSecond = 0.01 }
        defer { Task { await h.stop() } }
        let (_, _, token) = try await h.cluster("acme")
        var statuses: [Int] = []
        for n in 0..<3 {
            do {
                _ = try await h.join("caas_join_" + String(repeating: "a", count: 51) + ["b", "c", "d"][n])
            } catch AgentJoinError.refused(let status, _) {
                statuses.append(status)
            }
        }
        #expect(statuses == [401, 401, 429])
        // The guesser shares the address with the real agent: the real token joins regardless.
        _ = try await h.join(token)
    }

    @Test func aRevokedAgentIsLockedOutOfEveryCall() async throws {
        let h = try await AgentChannelHarness.make("agent_revoke")
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let directory = try await h.join(token)
        let client = try ControlPlaneClient(directory: directory)
        defer { client.shutdown() }
        try await client.beat(AgentChannelHarness.heartbeat(clusterID))
        let revoked = try await h.call("DELETE", "/v1/clusters/\(clusterID)/agent", token: admin)
        #expect(revoked.status == 200, "\(revoked.text)")
        #expect(revoked["status"]?.stringValue == "revoked")
        for attempt in 0..<2 {
            do {
                if attempt == 0 { try await client.beat(AgentChannelHarness.heartbeat(clusterID)) } else { _ = try await client.desiredState() }
                Issue.record("a revoked agent was served")
            } catch AgentJoinError.refused(let status, _) {
                #expect(status == 401)
            }
        }
        await #expect(throws: AgentJoinError.self) {
            _ = try await client.renew(key: try PrivateKey.generateP256(), hostname: "h", endpoint: nil, agentVersion: "t")
        }
        let again = try await h.call("DELETE", "/v1/clusters/\(clusterID)/agent", token: admin)
        #expect(again.status == 404)
        let events = try await h.api.raw { try $0.query("SELECT type FROM events WHERE type LIKE 'cluster.agent%' ORDER BY id").map { try $0.decode("type", as: String.self) } }
        #expect(events == ["cluster.agent_joined", "cluster.agent_revoked"])
    }

    @Test func anAgentSpeaksOnlyForItsOwnCluster() async throws {
        let h = try await AgentChannelHarness.make("agent_own_cluster")
        defer { Task { await h.stop() } }
        let (_, clusterA, tokenA) = try await h.cluster("acme")
        let (_, clusterB, _) = try await h.cluster("globex")
        let client = try ControlPlaneClient(directory: try await h.join(tokenA))
        defer { client.shutdown() }
        try await client.beat(AgentChannelHarness.heartbeat(clusterA))
        do {
            try await client.beat(AgentChannelHarness.heartbeat(clusterB))
            Issue.record("an agent of \(clusterA) spoke for \(clusterB)")
        } catch AgentJoinError.refused(let status, _) {
            #expect(status == 403)
        }
        // Another tenant cannot see or revoke the agent.
        let other = try await h.api.makeTenant("initech")
        let foreign = try await h.call("GET", "/v1/clusters/\(clusterA)/agent", token: other.tokens["admin"]!)
        #expect(foreign.status == 404)
    }

    @Test func certificatesOfAnotherCAOrExpiredOnesAreRefusedAtTheHandshake() async throws {
        let h = try await AgentChannelHarness.make("agent_wrong_cert")
        defer { Task { await h.stop() } }
        let (_, clusterID, token) = try await h.cluster("acme")
        let directory = try await h.join(token)
        let state = try directory.loadState()
        let identity = CertificateAuthority.Names(uris: [CaaSIdentity.agent(clusterID: clusterID, agentID: state.agentId).uri])
        // A look-alike chain from a CA the control plane never made.
        let strangerRoot = try CertificateAuthority.create(commonName: "caas control plane CA")
        let strangerCluster = try CertificateAuthority.create(commonName: "caas cluster \(clusterID) CA", issuer: strangerRoot)
        let key = try PrivateKey.generateP256()
        let forged = try strangerCluster.issue(for: key.publicKey, commonName: state.agentId, names: identity, usage: .client, validity: 3600)
        try await Self.expectRefused(h, directory: directory, certificate: forged, chain: strangerCluster.certificate, key: key, cluster: clusterID)
        // A certificate of the real cluster CA, expired yesterday.
        let real = try await h.channel.certificates.clusterAuthority(clusterID: clusterID, tenantID: "ignored")
        let expired = try real.issue(for: key.publicKey, commonName: state.agentId, names: identity, usage: .client, validity: 3600,
                                     now: Date().addingTimeInterval(-86_400))
        try await Self.expectRefused(h, directory: directory, certificate: expired, chain: real.certificate, key: key, cluster: clusterID)
        // A valid certificate of the real CA that the control plane never recorded (no serial): refused after the handshake.
        let unrecorded = try real.issue(for: key.publicKey, commonName: state.agentId, names: identity, usage: .client, validity: 3600)
        try await Self.expectRefused(h, directory: directory, certificate: unrecorded, chain: real.certificate, key: key, cluster: clusterID, status: 401)
        // No client certificate at all.
        let bare = try HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(trustedCAFile: directory.trustAnchorPath)))
        defer { bare.shutdown() }
        await #expect(throws: (any Error).self) {
            _ = try await bare.execute(try HTTPClientRequest(url: state.agentApiUrl + "/v1/agent/desired-state"))
        }
    }

    static func expectRefused(_ h: AgentChannelHarness, directory: AgentStateDirectory, certificate: Certificate, chain: Certificate,
                              key: PrivateKey, cluster: String, status: Int? = nil) async throws {
        let forged = h.stateDirectory()
        try forged.prepare()
        try AgentStateDirectory.writePrivate(Array(try key.pem().utf8), to: forged.keyPath)
        try AgentStateDirectory.writePrivate(Array((try certificate.pem() + chain.pem()).utf8), to: forged.certificatePath)
        try AgentStateDirectory.writePrivate(Array(try String(contentsOfFile: directory.trustAnchorPath, encoding: .utf8).utf8), to: forged.trustAnchorPath)
        try AgentStateDirectory.writePrivate(Array(try String(contentsOfFile: directory.statePath, encoding: .utf8).utf8), to: forged.statePath)
        let client = try ControlPlaneClient(directory: forged)
        defer { client.shutdown() }
        do {
            try await client.beat(AgentChannelHarness.heartbeat(cluster))
            Issue.record("a forged or expired certificate was served")
        } catch AgentJoinError.refused(let refusedStatus, _) {
            #expect(status == refusedStatus, "refused with \(refusedStatus) after the handshake")
        } catch AgentJoinError.unreachable {
            #expect(status == nil, "the handshake failed instead of \(status ?? 0)")
        }
    }

    @Test func renewalIssuesAFreshCertificateAndTheClusterShowsItsExpiry() async throws {
        let h = try await AgentChannelHarness.make("agent_renew") { $0.agentCertificateValidity = 3600 }
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let directory = try await h.join(token)
        let before = try directory.certificate()
        let client = try ControlPlaneClient(directory: directory)
        defer { client.shutdown() }
        let key = try PrivateKey.generateP256()
        let issued = try await client.renew(key: key, hostname: "h", endpoint: "https://127.0.0.2:7443", agentVersion: "t")
        try directory.save(issued: issued, key: key, serverURL: "", endpoint: "https://127.0.0.2:7443", renewal: true)
        try client.reload()
        let after = try directory.certificate()
        #expect(after.serialNumber != before.serialNumber)
        #expect(after.ipAddresses == ["127.0.0.2"])
        #expect(after.matches(key))
        #expect(abs(after.notAfter.timeIntervalSince(Date()) - 3600) < 60)
        try await client.beat(AgentChannelHarness.heartbeat(clusterID))
        let agent = try await h.call("GET", "/v1/clusters/\(clusterID)/agent", token: admin)
        #expect(agent["certificate_serial"]?.stringValue == after.serialNumber)
        #expect(agent["endpoint"]?.stringValue == "https://127.0.0.2:7443")
        #expect(agent["renewed_at"] != .null)
        #expect(try directory.loadState().serverUrl == h.url, "the public URL survives a renewal")
    }

    @Test func aRunningAgentRenewsBeforeExpiryAndKeepsServingPushesAndHeartbeats() async throws {
        // 300 s certificates (started 300 s back for clock skew): renewing at 51 % of that life is ~6 s from now.
        let h = try await AgentChannelHarness.make("agent_runtime_renew") { $0.agentCertificateValidity = 300 }
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let (directory, runtime, run) = try await runningAgent(h, token: token) { $0.renewalFraction = 0.51 }
        defer { run.cancel() }
        let first = try directory.certificate().serialNumber
        // Joined without an endpoint: the start renewed at once to name the host it serves on.
        #expect(try directory.certificate().ipAddresses == ["127.0.0.1"])
        let channel = try #require(await h.channel.directory.mtlsChannel(for: clusterID))
        let ack = try await channel.push(DesiredClusterState(clusterId: clusterID, generation: 1, nodes: []))
        #expect(ack.applied && ack.appliedGeneration == 1)
        var renewed = false
        for _ in 0..<150 where !renewed {
            try await Task.sleep(for: .milliseconds(100))
            renewed = try directory.certificate().serialNumber != first
        }
        #expect(renewed, "the agent renewed its certificate")
        try await Task.sleep(for: .milliseconds(500))
        // The renewal revoked the first certificate: a push that still expects it is refused
        // before a byte is sent; the directory (forgotten at the renewal) pushes to the new one.
        await #expect(throws: HTTPClientError.self) { _ = try await channel.push(DesiredClusterState(clusterId: clusterID, generation: 2, nodes: [])) }
        let renewedChannel = try #require(await h.channel.directory.mtlsChannel(for: clusterID))
        let again = try await renewedChannel.push(DesiredClusterState(clusterId: clusterID, generation: 2, nodes: []))
        #expect(again.applied && again.appliedGeneration == 2, "the push endpoint serves the renewed certificate")
        let agent = try await h.call("GET", "/v1/clusters/\(clusterID)/agent", token: admin)
        #expect(agent["certificate_serial"]?.stringValue == (try directory.certificate().serialNumber))
        #expect(agent["connection"]?.stringValue == "connected")
        run.cancel()
        await run.value
        await runtime.shutdown()
    }

    @Test func nodesTheAgentNamesAreRegisteredOnceAndKeepTheirIds() async throws {
        let h = try await AgentChannelHarness.make("agent_nodes")
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let made = try await h.api.createNode(admin, cluster: clusterID, name: "api-made")
        let client = try ControlPlaneClient(directory: try await h.join(token))
        defer { client.shutdown() }
        let registration = NodeRegistrationBody(nodes: [.init(name: "n1", engineEndpoint: "unix:///run/a.sock"),
                                                        .init(name: "api-made", engineEndpoint: "unix:///run/b.sock")],
                                                endpoint: "https://127.0.0.1:7443")
        let first = try await client.registerNodes(registration)
        #expect(first.map(\.name) == ["api-made", "n1"])
        #expect(first.first { $0.name == "api-made" }?.id == made["id"]?.stringValue)
        #expect(first.first { $0.name == "api-made" }?.engineEndpoint == "unix:///run/b.sock")
        let second = try await client.registerNodes(registration)
        #expect(second == first)
        // Capacity the agent measured fills in where the operator set none.
        let n1 = try #require(first.first { $0.name == "n1" }?.id)
        let report = AgentReport(clusterId: clusterID, sequence: 1, appliedGeneration: 0, sentAt: Date(), containers: [],
                                 nodes: [NodeObservation(nodeId: n1, engineReachable: true, engineVersion: "27.1", cpus: 2, memoryBytes: 1 << 30, observedAt: Date())])
        try await client.deliver(report)
        let stored = try await h.api.raw { try $0.query("SELECT capacity_cpus, capacity_memory, engine_version FROM nodes WHERE id = $1", [n1]).first.map {
            (try $0.decode("capacity_cpus", as: Double.self), try $0.decode("capacity_memory", as: Int64.self), try $0.decode("engine_version", as: String?.self)) } }
        #expect(stored?.0 == 2 && stored?.1 == 1 << 30 && stored?.2 == "27.1", "\(String(describing: stored))")
    }

    @Test func aReportWithNumbersOutOfRangeIsRefusedWholeAndChangesNothing() async throws {
        let h = try await AgentChannelHarness.make("agent_bounds")
        defer { Task { await h.stop() } }
        let (_, clusterID, client, n1) = try await h.joinedWithOneNode("acme")
        defer { client.shutdown() }
        func refused(_ send: () async throws -> Void) async -> (Int, String)? {
            do { try await send(); return nil } catch AgentJoinError.refused(let status, let detail) { return (status, detail) } catch { return (0, "\(error)") }
        }
        let greedy = NodeObservation(nodeId: n1, engineReachable: true, cpus: Int.max, memoryBytes: 1 << 30, observedAt: Date())
        let report = AgentReport(clusterId: clusterID, sequence: 1, appliedGeneration: 0, sentAt: Date(), containers: [], nodes: [greedy])
        let answer = await refused { try await client.deliver(report) }
        #expect(answer?.0 == 400 && answer?.1.contains("nodes[0].cpus") == true, "\(String(describing: answer))")
        var beat = AgentChannelHarness.heartbeat(clusterID)
        beat.nodes = [NodeObservation(nodeId: n1, engineReachable: true, cpus: 2, memoryBytes: Int64.max, observedAt: Date())]
        let beatAnswer = await refused { try await client.beat(beat) }
        #expect(beatAnswer?.0 == 400 && beatAnswer?.1.contains("nodes[0].memory_bytes") == true, "\(String(describing: beatAnswer))")
        let stored = try await h.api.raw { try $0.query("SELECT capacity_cpus FROM nodes WHERE id = $1", [n1]).first.map { try $0.decode("capacity_cpus", as: Double.self) } }
        #expect(stored == 0, "nothing of the refused report was applied")
        // In range, the same report is applied.
        var fine = report
        fine.nodes[0].cpus = 8
        try await client.deliver(fine)
        let after = try await h.api.raw { try $0.query("SELECT capacity_cpus FROM nodes WHERE id = $1", [n1]).first.map { try $0.decode("capacity_cpus", as: Double.self) } }
        #expect(after == 8)
    }

    /// A running agent of `clusterID` (its runtime serving pushes on a loopback port).
    func runningAgent(_ h: AgentChannelHarness, token: String, configure: (inout AgentRuntimeOptions) -> Void = { _ in })
        async throws -> (AgentStateDirectory, AgentRuntime, Task<Void, Never>) {
        let directory = try await h.join(token, endpoint: nil)
        var options = AgentRuntimeOptions(stateDirectory: directory)
        options.listenPort = 0
        options.heartbeatInterval = .milliseconds(300)
        configure(&options)
        var logger = Logger(label: "test.agent")
        logger.logLevel = .error
        let runtime = try await AgentRuntime.start(options: options, makeTransport: { _ in fatalError("no engines") }, logger: logger)
        return (directory, runtime, Task { await runtime.run() })
    }

    @Test func aPushChecksWhoAnswersBeforeSendingAByte() async throws {
        let h = try await AgentChannelHarness.make("agent_push_peer")
        defer { Task { await h.stop() } }
        let (_, clusterID, token) = try await h.cluster("acme")
        let (_, runtime, run) = try await runningAgent(h, token: token)
        let channel = try #require(await h.channel.directory.mtlsChannel(for: clusterID))
        // The same endpoint, expected to be another agent, or this one with a certificate not in force.
        for target in [AgentPushTarget(agentID: "agt_someoneelse", endpoint: channel.endpoint, serials: channel.target.serials),
                       AgentPushTarget(agentID: channel.target.agentID, endpoint: channel.endpoint, serials: ["0BADC0DE"])] {
            let wrong = MTLSAgentChannel(client: channel.client, clusterID: clusterID, target: target, pushTimeout: .seconds(5),
                                         encoder: DesiredStateEncoder())
            do {
                _ = try await wrong.push(DesiredClusterState(clusterId: clusterID, generation: 7, nodes: []))
                Issue.record("pushed to a peer that is not the cluster's agent in force")
            } catch let error as HTTPClientError {
                guard case .peerRefused = error else { Issue.record("\(error)"); continue }
            }
        }
        #expect(await runtime.agent.appliedGeneration == 0, "the agent received none of it")
        let ack = try await channel.push(DesiredClusterState(clusterId: clusterID, generation: 1, nodes: []))
        #expect(ack.applied && ack.appliedGeneration == 1)
        run.cancel()
        await run.value
        await runtime.shutdown()
    }

    @Test func logsOfAContainerLostWithItsNodeAre409AndOfAnUnansweringAgent503() async throws {
        let h = try await AgentChannelHarness.make("agent_logs_lost")
        defer { Task { await h.stop() } }
        let (admin, clusterID, client, node) = try await h.joinedWithOneNode("acme")
        defer { client.shutdown() }
        let app = try await h.api.deploy(admin, name: "web", cluster: clusterID,
                                         source: #""compose":"services:\n  web:\n    image: busybox\n""#)
        #expect(app.status == 202, "\(app.text)")
        let appID = try #require(app["id"]?.stringValue)
        try await h.api.raw {
            _ = try $0.execute("""
                INSERT INTO services (id, tenant_id, application_id, name, kind, spec)
                SELECT 'svc_logsprobe', tenant_id, id, 'probe', 'container', '{}' FROM applications WHERE id = $1
                """, [appID])
        }
        func container(_ id: String, _ state: String) async throws {
            try await h.api.raw {
                _ = try $0.execute("""
                    INSERT INTO containers (id, tenant_id, application_id, service_id, node_id, slot, generation, observed_state)
                    SELECT $1, tenant_id, application_id, id, $2, 1, 1, $3 FROM services WHERE id = 'svc_logsprobe'
                    """, [id, node, state])
            }
        }
        try await container("ctr_aaaaaaaaaaaaaaaaaaa1", "lost")
        try await container("ctr_aaaaaaaaaaaaaaaaaaa2", "running")
        try await container("ctr_aaaaaaaaaaaaaaaaaaa3", "assigned")
        let inserted = try await h.api.raw { try $0.query("SELECT count(*)::int8 AS n FROM containers WHERE service_id = 'svc_logsprobe'")[0].decode("n", as: Int.self) }
        #expect(inserted == 3)
        let lost = try await h.call("GET", "/v1/containers/ctr_aaaaaaaaaaaaaaaaaaa1/logs", token: admin)
        #expect(lost.status == 409 && lost.text.contains("lost with its node"), "\(lost.status) \(lost.text)")
        let running = try await h.call("GET", "/v1/containers/ctr_aaaaaaaaaaaaaaaaaaa2/logs", token: admin)
        #expect(running.status == 503 && running.text.contains("did not answer"), "\(running.status) \(running.text)")
        let assigned = try await h.call("GET", "/v1/containers/ctr_aaaaaaaaaaaaaaaaaaa3/logs", token: admin)
        #expect(assigned.status == 409 && assigned.text.contains("not been created"), "\(assigned.status) \(assigned.text)")
    }

    @Test func aSuspendedTenantsAgentGets403AndNoPushesUntilResumed() async throws {
        let h = try await AgentChannelHarness.make("agent_suspended")
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let tenantID = try #require(try await h.call("GET", "/v1/tenant", token: admin)["id"]?.stringValue)
        let directory = try await h.join(token)
        let client = try ControlPlaneClient(directory: directory)
        defer { client.shutdown() }
        try await client.beat(AgentChannelHarness.heartbeat(clusterID))
        #expect(try await h.call("POST", "/v1/tenants/\(tenantID)/suspend", token: h.api.systemToken, body: #"{"reason":"unpaid"}"#).status == 200)
        do {
            try await client.beat(AgentChannelHarness.heartbeat(clusterID))
            Issue.record("a suspended tenant's agent was served")
        } catch AgentJoinError.refused(let status, _) {
            #expect(status == 403)
        }
        h.channel.directory.forget(clusterID)
        #expect(await h.channel.directory.mtlsChannel(for: clusterID) == nil, "no pushes to a suspended tenant's agent")
        await #expect(throws: AgentJoinError.self) { _ = try await h.join(token) }
        #expect(try await h.call("POST", "/v1/tenants/\(tenantID)/resume", token: h.api.systemToken, body: "{}").status == 200)
        try await client.beat(AgentChannelHarness.heartbeat(clusterID))
    }

    @Test func joinTokensExpireJoinsNeedHTTPSEndpointsAndJoinsAndRenewalsAreAudited() async throws {
        // A TTL long enough for the joins below on a busy machine; the expiry check then waits
        // for it from the token's making.
        let h = try await AgentChannelHarness.make("agent_join_ttl") { $0.joinTokenTTL = 5 }
        defer { Task { await h.stop() } }
        let (admin, clusterID, token) = try await h.cluster("acme")
        let made = ContinuousClock.now
        do {
            _ = try await h.join(token, endpoint: "http://127.0.0.1:7443")
            Issue.record("a plain http endpoint was accepted")
        } catch AgentJoinError.refused(let status, let detail) {
            #expect(status == 400 && detail.contains("https"), "\(detail)")
        }
        let directory = try await h.join(token)
        let client = try ControlPlaneClient(directory: directory)
        defer { client.shutdown() }
        let key = try PrivateKey.generateP256()
        let issued = try await client.renew(key: key, hostname: "h", endpoint: "https://127.0.0.1:7443", agentVersion: "t")
        await #expect(throws: AgentJoinError.self) {
            _ = try await client.renew(key: key, hostname: "h", endpoint: "http://127.0.0.1:7443", agentVersion: "t")
        }
        _ = issued
        try await Task.sleep(until: made.advanced(by: .milliseconds(5300)))
        do {
            _ = try await h.join(token)
            Issue.record("an expired join token joined")
        } catch AgentJoinError.refused(let status, let detail) {
            #expect(status == 401 && detail.contains("expired"), "\(detail)")
        }
        let rotated = try await h.call("POST", "/v1/clusters/\(clusterID)/join-token", token: admin)
        _ = try await h.join(try #require(rotated["join_token"]?.stringValue))
        let audit = try await h.call("GET", "/v1/audit?action=agents", token: admin)
        let actions = audit.items.compactMap { $0["action"]?.stringValue }
        #expect(actions.filter { $0 == "agents.join" }.count == 2 && actions.contains("agents.renew"), "\(audit.text)")
    }

    @Test func theAgentRoutesAreInOpenAPIAndTheReverse() throws {
        let documented = try ResourceOpenAPITests.operations()
        for route in AgentChannelRoutes.all(nil) {
            #expect(documented["\(route.method) \(route.path)"] == route.action, "\(route.method) \(route.path)")
        }
    }

    @Test func settingsComeFromTheEnvironment() throws {
        let settings = try AgentChannelSettings.resolve(environment: ["CAAS_AGENT_LISTEN": "0.0.0.0:9443", "CAAS_AGENT_URL": "https://agents.example:9443",
                                                                     "CAAS_AGENT_CERT_VALIDITY": "86400", "CAAS_AGENT_TLS_NAMES": "a.example, 10.0.0.5"])
        #expect(settings.listenHost == "0.0.0.0" && settings.listenPort == 9443)
        #expect(settings.agentURL(boundPort: 9443) == "https://agents.example:9443")
        #expect(settings.agentCertificateValidity == 86_400)
        #expect(settings.listenerNames == ["a.example", "10.0.0.5"])
        #expect(AgentChannelSettings().agentURL(boundPort: 8443) == "https://127.0.0.1:8443")
        #expect(throws: ConfigurationError.self) { try AgentChannelSettings.resolve(environment: ["CAAS_AGENT_URL": "http://x"]) }
        #expect(throws: ConfigurationError.self) { try AgentChannelSettings.resolve(environment: ["CAAS_AGENT_CERT_VALIDITY": "5"]) }
    }
}
