// ScheduleBenchmark: end to end through the API, the scheduler's workers and PostgreSQL, up to
// "pushed". `--apps` applications of `--replicas` containers each are created with POST /v1/apps
// (through the control plane's request pipeline, without a socket) in a cluster of `--nodes`
// nodes; the workers plan, apply (batched inserts, events) and push the cluster's desired state
// to an in-process agent that acknowledges. Reported: placements committed per second (all
// containers committed) and the time until the agent holds them all.
//
//   cd Benchmarks && swift run -c release ScheduleBenchmark [--apps 100] [--replicas 100] [--nodes 200]
//                                                         [--reconcilers 2] [--fsync] [--no-prepare] [--workers-after]
import CaaSModel
import CaaSPostgres
import CaaSServer
import CaaSStore
import Foundation
import Logging

struct Options {
    var apps = 100
    var replicas = 100
    var nodes = 200
    var reconcilers = 2
    var fsync = false
    /// Sessions prepare no statements (as behind a transaction-pooling PgBouncer).
    var noPrepare = false
    /// Create every application first, then start the workers (measures the workers alone).
    var workersAfter = false

    init(_ arguments: [String]) {
        var i = 0
        func next() -> Int { i += 1; return Int(arguments[i]) ?? 0 }
        while i < arguments.count {
            switch arguments[i] {
            case "--apps": apps = next()
            case "--replicas": replicas = next()
            case "--nodes": nodes = next()
            case "--reconcilers": reconcilers = next()
            case "--fsync": fsync = true
            case "--no-prepare": noPrepare = true
            case "--workers-after": workersAfter = true
            default: break
            }
            i += 1
        }
    }
}

/// The agent end: encodes every push as the real channel does, acknowledges it, and remembers how
/// many containers the last one held.
final class CountingAgent: ClusterAgentChannel, @unchecked Sendable {
    private let lock = NSLock()
    private var applied: Int64 = 0
    private var lastCount = 0
    private(set) var pushes = 0
    private let encoder = DesiredStateEncoder()
    var state: (generation: Int64, containers: Int, pushes: Int) { lock.withLock { (applied, lastCount, pushes) } }

    func push(_ state: DesiredClusterState) async throws -> PushAcknowledgement {
        // What the real channel sends (MTLSAgentDirectory): the state encoded for the wire.
        _ = try encoder.encode(state)
        let count = state.nodes.reduce(0) { $0 + $1.containers.count }
        return lock.withLock {
            pushes += 1
            guard state.generation >= applied else { return PushAcknowledgement(applied: false, appliedGeneration: applied) }
            applied = state.generation
            lastCount = count
            return PushAcknowledgement(applied: true, appliedGeneration: applied)
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ScheduleBenchmark: \(message)\n".utf8))
    exit(1)
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = ProcessInfo.processInfo.environment["CAAS_BENCH_DEBUG"] != nil ? .debug : .warning
    return handler
}
let logger = Logger(label: "bench")
let total = options.apps * options.replicas

// A private PostgreSQL (unix socket only) in a temporary directory.
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("caas-schedbench-\(getpid())").path
try? FileManager.default.removeItem(atPath: directory)
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
let server = try EmbeddedPostgres.start(.init(dataDirectory: directory, database: "caas", fsync: options.fsync,
                                              settings: ["max_connections": "100", "shared_buffers": "128MB"]))
defer {
    try? server.stop(mode: .fast)
    try? FileManager.default.removeItem(atPath: directory)
}
let url = server.url(database: "caas")
let pool = PostgresPool(configuration: .init(connection: PostgresConfiguration(url: url, preparedStatementLimit: options.noPrepare ? 0 : 256),
                                             maxConnections: 16))
let migrations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("migrations").path
_ = try await Migrator(pool: pool, directory: migrations).migrate()

let store = Store(source: pool)
var tenancy = TenancySettings()
tenancy.rateLimitBurst = 1_000_000
tenancy.rateLimitPerSecond = 1_000_000
let systemToken = try TokenSecret.generate()
tenancy.bootstrapToken = systemToken
var resources = ResourceSettings()
resources.rolloutDeadlineSeconds = 3_600
let plane = ControlPlane(store: store, settings: tenancy, resources: resources, logger: logger)
_ = try await plane.bootstrap(print: { _ in })

func call(_ method: String, _ path: String, token: String, body: String) async -> (Int, [String: Any]) {
    let request = APIRequest(method: method, path: path, headers: ["authorization": "Bearer \(token)", "content-type": "application/json"],
                             body: Array(body.utf8), clientAddress: "127.0.0.1")
    let response = await plane.handle(request)
    let json = (try? JSONSerialization.jsonObject(with: Data(response.bodyBytes))) as? [String: Any] ?? [:]
    return (response.status, json)
}

func require(_ reply: (Int, [String: Any]), _ what: String) -> [String: Any] {
    guard (200..<300).contains(reply.0) else { fail("\(what): \(reply.0) \(reply.1)") }
    return reply.1
}

let tenant = require(await call("POST", "/v1/tenants", token: systemToken, body: #"{"name":"bench","quotas":{"nodes":100000,"applications":100000,"containers":1000000,"clusters":100}}"#), "tenant")["id"] as! String
let token = require(await call("POST", "/v1/tenants/\(tenant)/tokens", token: systemToken, body: #"{"name":"ops","role":"admin"}"#),
                    "token")["secret"] as! String
let cluster = require(await call("POST", "/v1/clusters", token: token, body: #"{"name":"bench","network_cidr":"10.64.0.0/12"}"#),
                      "cluster")["id"] as! String
for n in 0..<options.nodes {
    _ = require(await call("POST", "/v1/clusters/\(cluster)/nodes", token: token, body: """
        {"name":"node-\(n)","engine_endpoint":"unix:///run/bench/\(n).sock","labels":{"az":"\(n % 3)"},
         "capacity":{"cpus":64,"memory_bytes":274877906944}}
        """), "node \(n)")
}

var settings = WorkerSettings(replicaID: "bench")
settings.reconcileConcurrency = options.reconcilers
settings.pushConcurrency = 1
settings.nodeDownAfter = 86_400 // heartbeats are not what this measures
let agent = CountingAgent()
let agents = OneAgentDirectory(clusterID: cluster, agent: agent)
let listener = PostgresListener(configuration: PostgresConfiguration(url: url))
let signal = PostgresJobSignal(listener: listener)
try await signal.start()
let workers = SchedulerWorkers(store: store, database: PostgresConfiguration(url: url), agents: agents, secretsKey: plane.secretsKey,
                               settings: settings,
                               signal: signal, logger: logger)
var running: Task<Void, Never>? = options.workersAfter ? nil : Task { await workers.run() }

func committedCount() async throws -> Int {
    try await pool.withConnection { try $0.query("SELECT count(*)::int8 AS n FROM containers")[0].decode("n", as: Int.self) }
}

print("ScheduleBenchmark: \(options.apps) apps × \(options.replicas) replicas = \(total) containers on \(options.nodes) nodes, "
      + "\(options.reconcilers) reconcile loops, fsync \(options.fsync ? "on" : "off")")
let compose = """
    services:
      web:
        image: registry.local/web:1
        deploy:
          replicas: \(options.replicas)
          resources:
            reservations:
              cpus: '0.01'
              memory: 16M
    """
let start = Date()
for a in 0..<options.apps {
    let body = #"{"name":"app-\#(a)","cluster_id":"\#(cluster)","compose":\#(String(decoding: try JSONEncoder().encode(compose), as: UTF8.self))}"#
    _ = require(await call("POST", "/v1/apps", token: token, body: body), "app \(a)")
}
let created = Date()
print(String(format: "API: %d apps created in %.2f s", options.apps, created.timeIntervalSince(start)))
let measureFrom = options.workersAfter ? Date() : start
if options.workersAfter { running = Task { await workers.run() } }
var placedAt: Date?
var pushedAt: Date?
let deadline = Date().addingTimeInterval(600)
while Date() < deadline {
    if placedAt == nil, try await committedCount() >= total { placedAt = Date() }
    if placedAt != nil {
        let pushed = agent.state
        if pushed.containers >= total {
            pushedAt = Date()
            break
        }
    }
    try await Task.sleep(nanoseconds: 10_000_000)
}
running?.cancel()
await running?.value
signal.stop()
listener.shutdown()
guard let placedAt, let pushedAt else { fail("did not converge within 600 s (committed \(try await committedCount()) of \(total))") }
let placeSeconds = placedAt.timeIntervalSince(measureFrom)
let pushSeconds = pushedAt.timeIntervalSince(measureFrom)
let failed: Int = try await pool.withConnection {
    try $0.query("SELECT count(*)::int8 AS n FROM jobs WHERE state = 'failed'")[0].decode("n")
}
let events: Int = try await pool.withConnection {
    try $0.query("SELECT count(*)::int8 AS n FROM events WHERE type = 'container.placed'")[0].decode("n")
}
print(String(format: "placements committed: %d in %.2f s = %.0f placements/s (goal >= 5000/s)", total, placeSeconds, Double(total) / placeSeconds))
print(String(format: "pushed: all %d containers held by the agent after %.2f s (%d pushes) = %.0f containers/s end to end",
             total, pushSeconds, agent.state.pushes, Double(total) / pushSeconds))
print("container.placed events: \(events); failed jobs: \(failed)")
if let hold = ProcessInfo.processInfo.environment["CAAS_BENCH_HOLD"], let seconds = Double(hold) {
    print("holding the database at \(url) for \(hold) s")
    try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
}
pool.shutdown()

/// The pusher's directory: the one benchmark cluster's counting agent.
struct OneAgentDirectory: ClusterAgentDirectory {
    let clusterID: String
    let agent: CountingAgent

    func channel(for clusterID: String) async -> (any ClusterAgentChannel)? {
        clusterID == self.clusterID ? agent : nil
    }
}
