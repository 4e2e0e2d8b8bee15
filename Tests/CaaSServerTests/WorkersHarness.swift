import CaaSModel
import CaaSPlanner
import CaaSPostgres
@testable import CaaSServer
import CaaSStore
import CaaSTestSupport
import CaaSWorkersTestSupport
import Foundation
import Logging
import Testing

/// The API on a fresh database, a tenant with a cluster and nodes, an in-process agent, and one
/// or more "replicas" of the scheduler's workers (each a `SchedulerWorkers` with its own
/// LISTEN-based signal), all on the same real PostgreSQL.
final class WorkersHarness: @unchecked Sendable {
    let api: APIHarness
    let tenantID: String
    let operatorToken: String
    let adminToken: String
    let clusterID: String
    var nodeIDs: [String]
    let agent: WorkersTestAgent
    let directory = StaticAgentDirectory()
    let endpoints: AgentEndpoints
    let listener: PostgresListener
    let signal: PostgresJobSignal
    private var replicas: [String: Task<Void, Never>] = [:]
    private var heartbeats: Task<Void, Never>?
    var store: Store { api.plane.store }

    static func make(_ label: String, pool: PostgresPool? = nil,
                     nodes: [(name: String, labels: String)] = [("n1", "{}"), ("n2", "{}"), ("n3", "{}")]) async throws -> WorkersHarness {
        let api = try await APIHarness.make(label, pool: pool)
        let tenant = try await api.makeTenant("acme")
        let admin = tenant.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        var nodeIDs: [String] = []
        for node in nodes {
            let reply = try await api.createNode(admin, cluster: cluster, name: node.name, labels: node.labels)
            nodeIDs.append(try #require(reply["id"]?.stringValue, "\(reply.text)"))
        }
        return try await WorkersHarness(api: api, tenant: tenant, cluster: cluster, nodes: nodeIDs)
    }

    private init(api: APIHarness, tenant: (id: String, tokens: [String: String], tokenIDs: [String: String]), cluster: String, nodes: [String]) async throws {
        self.api = api
        tenantID = tenant.id
        operatorToken = tenant.tokens["operator"]!
        adminToken = tenant.tokens["admin"]!
        clusterID = cluster
        nodeIDs = nodes
        listener = PostgresListener(configuration: api.pool.configuration.connection)
        signal = PostgresJobSignal(listener: listener)
        try await signal.start()
        agent = WorkersTestAgent(clusterID: cluster, secret: "agent-secret", nodes: nodes)
        endpoints = AgentEndpoints(store: api.plane.store, authenticator: StaticAgentAuthenticator(clusters: ["agent-secret": cluster]),
                                   signal: signal, secretsKey: api.plane.secretsKey, logger: Logger(label: "test.agent-api"))
        await agent.attach(endpoints)
        directory.register(agent, for: cluster)
        try await agent.heartbeat()
    }

    static func settings(_ replica: String) -> WorkerSettings { WorkerSettings.forTests(replica) }

    func makeWorkers(_ replica: String, logger: Logger = Logger(label: "test.workers"),
                     configure: (inout WorkerSettings) -> Void = { _ in }) -> SchedulerWorkers {
        var settings = Self.settings(replica)
        configure(&settings)
        return SchedulerWorkers(store: store, database: api.pool.configuration.connection, agents: directory,
                                secretsKey: api.plane.secretsKey, settings: settings, signal: signal, logger: logger)
    }

    /// Starts a replica of the workers (and, once, the agent's heartbeats every 0.3 s).
    @discardableResult
    func startReplica(_ replica: String = "r1", logger: Logger = Logger(label: "test.workers"),
                      configure: (inout WorkerSettings) -> Void = { _ in }) -> SchedulerWorkers {
        let workers = makeWorkers(replica, logger: logger, configure: configure)
        replicas[replica] = Task { await workers.run() }
        if heartbeats == nil {
            let agent = self.agent
            heartbeats = Task {
                while !Task.isCancelled {
                    try? await agent.heartbeat()
                    try? await Task.sleep(nanoseconds: 300_000_000)
                }
            }
        }
        return workers
    }

    /// Stops a replica as if its process died: its tasks end, its leadership session closes.
    func kill(_ replica: String) async {
        let task = replicas.removeValue(forKey: replica)
        task?.cancel()
        await task?.value
    }

    func shutdown() async {
        heartbeats?.cancel()
        for name in Array(replicas.keys) { await kill(name) }
        signal.stop()
        listener.shutdown()
    }

    // MARK: API helpers

    func deploy(_ name: String, compose: String) async throws -> (app: String, services: [String: String]) {
        let reply = try await api.deploy(operatorToken, name: name, cluster: clusterID, source: #""compose":\#(jsonString(compose))"#)
        #expect(reply.status == 202 || reply.status == 201, "\(reply.text)")
        let app = try #require(reply["id"]?.stringValue, "\(reply.text)")
        var services: [String: String] = [:]
        let list = try await api.call("GET", "/v1/apps/\(app)/services", token: operatorToken)
        for item in list.items { services[item["name"]!.stringValue!] = item["id"]!.stringValue! }
        return (app, services)
    }

    func scale(_ service: String, _ replicas: Int) async throws {
        let reply = try await api.call("POST", "/v1/services/\(service)/scale", token: operatorToken, body: #"{"replicas":\#(replicas)}"#)
        #expect(reply.status == 200 || reply.status == 202, "\(reply.text)")
    }

    func update(_ app: String, compose: String) async throws {
        let reply = try await api.call("POST", "/v1/apps/\(app)/update", token: operatorToken, body: #"{"compose":\#(jsonString(compose))}"#)
        #expect(reply.status == 202 || reply.status == 200, "\(reply.text)")
    }

    // MARK: Reading state

    struct ContainerRow: Sendable, Equatable {
        var id: String
        var service: String
        var slot: Int
        var node: String?
        var generation: Int64
        var desired: String
        var observed: String
        var replacedBy: String?
    }

    func containers(app: String) async throws -> [ContainerRow] {
        try await api.raw { c in
            try c.query("""
                SELECT id, service_id, slot::int8 AS slot, node_id, generation, desired_state, observed_state, replaced_by
                FROM containers WHERE application_id = $1 ORDER BY service_id, slot, created_at
                """, [app]).map {
                ContainerRow(id: try $0.decode("id"), service: try $0.decode("service_id"), slot: try $0.decode("slot"),
                             node: try $0.decode("node_id"), generation: try $0.decode("generation"),
                             desired: try $0.decode("desired_state"), observed: try $0.decode("observed_state"),
                             replacedBy: try $0.decode("replaced_by"))
            }
        }
    }

    /// Containers counted as running: desired and observed running, not fenced.
    func running(app: String, service: String? = nil) async throws -> [ContainerRow] {
        try await containers(app: app).filter {
            $0.desired == "running" && $0.observed == "running" && $0.replacedBy == nil && (service == nil || $0.service == service)
        }
    }

    func deployment(app: String) async throws -> (status: String, outcome: String?, reason: String?, updated: Int, total: Int)? {
        try await api.raw { c in
            try c.query("""
                SELECT status, outcome, reason, progress_updated::int8 AS u, progress_total::int8 AS t FROM deployments
                WHERE application_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1
                """, [app]).first.map {
                (try $0.decode("status"), try $0.decode("outcome"), try $0.decode("reason"), try $0.decode("u"), try $0.decode("t"))
            }
        }
    }

    func eventTypes(objectID: String? = nil) async throws -> [String] {
        try await api.raw { c in
            try c.query("SELECT type FROM events WHERE tenant_id = $1 AND ($2::text IS NULL OR object_id = $2) ORDER BY id",
                        [self.tenantID, objectID]).map { try $0.decode("type", as: String.self) }
        }
    }

    func jobs(kind: String) async throws -> [(state: String, attempts: Int, lockedBy: String?)] {
        try await api.raw { c in
            try c.query("SELECT state, attempts::int8 AS a, locked_by FROM jobs WHERE kind = $1 ORDER BY id", [kind]).map {
                (try $0.decode("state"), try $0.decode("a"), try $0.decode("locked_by"))
            }
        }
    }

    /// Polls `condition` until true or `timeout`; returns whether it became true.
    func eventually(_ timeout: TimeInterval = 10, _ what: String = "", _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return try await condition()
    }
}

/// Compose texts used by the worker tests.
enum WorkerCompose {
    static func web(image: String = "busybox:1", replicas: Int = 3, extra: String = "") -> String {
        """
        services:
          web:
            image: \(image)
            deploy:
              replicas: \(replicas)
              update_config:
                parallelism: 1
                monitor: 0s
                failure_action: rollback
              rollback_config:
                parallelism: 0
                monitor: 0s
        \(extra)
        """
    }
}
