import CaaSPostgres
@testable import CaaSServer
import CaaSStore
import Foundation
import Testing

/// Issue 13 item 3: PostgreSQL restarted while the API takes deployments and the workers place
/// their containers. The API answers 503 with Retry-After while the database is gone (never a
/// crash, never a 500), everything recovers without a restart, and nothing is lost or doubled.
@Suite(.serialized) struct DatabaseRestartTests {
    @Test(.timeLimit(.minutes(3)))
    func postgresRestartedUnderLoadLosesAndDoublesNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("caas-pg-restart-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = EmbeddedPostgres.Configuration(dataDirectory: directory, fsync: false, settings: ["max_connections": "60"])
        var server = try await EmbeddedPostgres.launch(configuration)
        let pool = PostgresPool(configuration: .init(connection: PostgresConfiguration(url: server.url), maxConnections: 8,
                                                     acquireTimeout: .seconds(2)))
        let h = try await WorkersHarness.make("pg_restart", pool: pool)
        h.startReplica("r1") { $0.nodeDownAfter = 30 }

        // A client that deploys 16 applications one after the other, retrying what the server
        // answers 5xx with the same Idempotency-Key (as a careful client does).
        let apps = 16
        let client = Task { () -> (statuses: [Int: Int], ids: [String]) in
            var statuses: [Int: Int] = [:]
            var ids: [String] = []
            for n in 0..<apps {
                let body = #"{"name":"app-\#(n)","cluster_id":"\#(h.clusterID)","compose":\#(jsonString(WorkerCompose.web(replicas: 2)))}"#
                while true {
                    let reply = try? await h.api.call("POST", "/v1/apps", token: h.operatorToken, body: body, headers: ["Idempotency-Key": "deploy-\(n)"])
                    let status = reply?.status ?? 0
                    statuses[status, default: 0] += 1
                    if let reply, reply.status == 503 { #expect(reply.header("Retry-After") != nil, "503 says when to come back") }
                    if let id = reply?["id"]?.stringValue, status < 300 { ids.append(id); break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await Task.sleep(for: .milliseconds(150))
            }
            return (statuses, ids)
        }

        // Mid-way: PostgreSQL stops (fast shutdown: every session is cut), stays away, comes back.
        try await Task.sleep(for: .milliseconds(900))
        try await server.shutdown(mode: .fast)
        try await Task.sleep(for: .seconds(2))
        server = try await EmbeddedPostgres.launch(configuration)

        let (statuses, ids) = try await client.value
        print("database restart: API answers by status \(statuses.sorted { $0.key < $1.key })")
        #expect(statuses[503, default: 0] > 0, "the outage was seen as 503")
        #expect(statuses[500, default: 0] == 0, "never a 500: \(statuses)")
        #expect(Set(ids).count == apps, "each application created once: \(ids)")
        let converged = try await h.eventually(40) {
            for app in ids where try await h.running(app: app).count != 2 { return false }
            return true
        }
        #expect(converged, "every application runs its 2 containers after the restart")
        let counts: (apps: Int, containers: Int, doubledEvents: Int) = try await h.api.raw { c in
            (try c.query("SELECT count(*)::int8 AS n FROM applications")[0].decode("n"),
             try c.query("SELECT count(*)::int8 AS n FROM containers WHERE desired_state <> 'removed'")[0].decode("n"),
             try c.query("""
                SELECT count(*)::int8 AS n FROM (SELECT object_id FROM events WHERE type = 'container.placed'
                GROUP BY object_id HAVING count(*) > 1) d
                """)[0].decode("n"))
        }
        print("database restart: requested \(apps * 2) containers, placed \(counts.containers), applications \(counts.apps), doubled events \(counts.doubledEvents)")
        #expect(counts.apps == apps && counts.containers == apps * 2, "none lost, none doubled: \(counts)")
        #expect(counts.doubledEvents == 0)
        await h.shutdown()
        pool.shutdown()
        try await server.shutdown(mode: .immediate)
    }
}
