import CaaSAgent
import CaaSHTTP
import CaaSPostgres
import CaaSServer
import CaaSStore
import CaaSTestSupport
import Foundation
import Logging

/// A whole caas-server in this process, as `caas-server` wires it: a fresh PostgreSQL database
/// with every migration, the API on a real loopback socket, the agent channel (CAs, mTLS listener,
/// push directory, public routes) and the scheduler's workers, woken by LISTEN/NOTIFY.
final class ControlPlaneUnderTest: @unchecked Sendable {
    let database: TestDatabase
    let agentPool: PostgresPool
    let store: Store
    let plane: ControlPlane
    let channel: AgentChannelService
    let api: HTTPServer
    let listener: PostgresListener
    let signal: PostgresJobSignal
    let workers: Task<Void, Never>
    let client: HTTPClient
    let systemToken: String
    var apiURL: String { "http://127.0.0.1:\(api.port!)" }
    /// How a test's agent trusts this control plane over plain HTTP: by its CA's SHA-256, as an
    /// operator would pass `--ca-fingerprint`.
    var joinTrust: JoinTrust { .fingerprint((try? channel.certificates.root.certificate.sha256Fingerprint()) ?? "") }

    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["CAAS_E2E_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// `apiConnections`: the API's and workers' pool (`apiAcquireTimeout`: how long a request
    /// waits for one of them); the agent channel has its own, as in caas-server, unless
    /// `sharedAgentPool` (a control plane wired the wrong way, for tests that show the difference).
    /// `agentChannel`: changes to the agent channel's settings (e.g. its port and advertised URL).
    static func start(_ label: String, apiConnections: Int = 12, apiAcquireTimeout: Duration = .seconds(10), sharedAgentPool: Bool = false,
                      agentChannel: (inout AgentChannelSettings) -> Void = { _ in },
                      workerSettings: (inout WorkerSettings) -> Void = { _ in }) async throws -> ControlPlaneUnderTest {
        let database = try await TestPostgres.makeDatabase(label: label, maxConnections: apiConnections, acquireTimeout: apiAcquireTimeout)
        try await applyMigrations(database.pool)
        let store = Store(source: database.pool)
        let agentPool = PostgresPool(configuration: .init(connection: database.pool.configuration.connection, maxConnections: 6))
        let agentStore = sharedAgentPool ? store : Store(source: agentPool)
        var settings = TenancySettings()
        settings.rateLimitBurst = 100_000
        settings.rateLimitPerSecond = 100_000
        let token = try TokenSecret.generate()
        settings.bootstrapToken = token
        let resources = ResourceSettings(secretsKey: Array(repeating: 7, count: 32))
        let listener = PostgresListener(configuration: database.pool.configuration.connection)
        let signal = PostgresJobSignal(listener: listener)
        try await signal.start()
        var channelSettings = AgentChannelSettings()
        channelSettings.listenPort = 0
        agentChannel(&channelSettings)
        let channel = try await AgentChannelService.start(store: agentStore, secretsKey: resources.secretsKey!, settings: channelSettings, signal: signal,
                                                          quotas: settings.quotaDefaults, logger: logger("caas.e2e.agent-channel"))
        let plane = ControlPlane(store: store, settings: settings, resources: resources, additionalRoutes: channel.routes,
                                 logger: logger("caas.e2e.api"))
        try await plane.bootstrap(print: { _ in })
        let api = try HTTPServer(configuration: HTTPServerConfiguration(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1,
                                                                        handlerExecution: .globalExecutor),
                                 responder: plane.makeResponder(), logger: logger("caas.e2e.http"))
        try api.start()
        var worker = WorkerSettings(replicaID: "e2e")
        worker.quotas = settings.quotaDefaults
        workerSettings(&worker)
        let workers = SchedulerWorkers(store: store, database: database.pool.configuration.connection, agents: channel.directory,
                                       secretsKey: plane.secretsKey,
                                       settings: worker, signal: signal, logger: logger("caas.e2e.workers"))
        let task = Task { await workers.run() }
        return ControlPlaneUnderTest(database: database, agentPool: agentPool, store: store, plane: plane, channel: channel, api: api, listener: listener,
                                     signal: signal, workers: task, client: try HTTPClient(), systemToken: token)
    }

    private init(database: TestDatabase, agentPool: PostgresPool, store: Store, plane: ControlPlane, channel: AgentChannelService, api: HTTPServer,
                 listener: PostgresListener, signal: PostgresJobSignal, workers: Task<Void, Never>, client: HTTPClient, systemToken: String) {
        self.database = database
        self.agentPool = agentPool
        self.store = store
        self.plane = plane
        self.channel = channel
        self.api = api
        self.listener = listener
        self.signal = signal
        self.workers = workers
        self.client = client
        self.systemToken = systemToken
    }

    func stop() async {
        workers.cancel()
        await workers.value
        await api.shutdown(gracePeriod: .seconds(1))
        await channel.shutdown()
        signal.stop()
        listener.shutdown()
        agentPool.shutdown()
        client.shutdown()
    }

    static func applyMigrations(_ pool: PostgresPool) async throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        for file in files {
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            try await pool.withConnection { connection in try connection.transaction { try $0.executeScript(sql) } }
        }
    }

    // MARK: The public API over the socket

    struct Reply: @unchecked Sendable {
        var status: Int
        var body: [UInt8]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        var text: String { String(decoding: body, as: UTF8.self) }
        subscript(key: String) -> Any? { json[key] }
    }

    func call(_ method: HTTPMethod, _ path: String, token: String?, body: Any? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var fields = HTTPClientHeaders()
        for (name, value) in headers { fields.add(name, value) }
        if let token { fields.add("Authorization", "Bearer \(token)") }
        var payload: HTTPClientRequest.Body = .none
        if let body {
            fields.add("Content-Type", "application/json")
            payload = .bytes(Array(try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await client.execute(try HTTPClientRequest(method: method, url: apiURL + path, headers: fields, body: payload),
                                                 timeout: .seconds(30))
        return Reply(status: response.status, body: response.body)
    }

    /// A tenant with an admin and an operator token.
    func makeTenant(_ name: String) async throws -> (id: String, admin: String, operator: String) {
        let tenant = try await call(.post, "/v1/tenants", token: systemToken, body: ["name": name])
        guard tenant.status == 201, let id = tenant["id"] as? String else { throw E2EError("tenant: \(tenant.text)") }
        var tokens: [String] = []
        for role in ["admin", "operator"] {
            let reply = try await call(.post, "/v1/tenants/\(id)/tokens", token: systemToken, body: ["name": "\(role)-e2e", "role": role])
            guard reply.status == 201, let secret = reply["secret"] as? String else { throw E2EError("token: \(reply.text)") }
            tokens.append(secret)
        }
        return (id, tokens[0], tokens[1])
    }
}

struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
