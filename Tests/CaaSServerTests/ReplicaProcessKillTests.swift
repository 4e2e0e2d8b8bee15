import CaaSHTTP
import CaaSPostgres
import CaaSServer
import CaaSTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 13 item 4 with real processes: three `caas-server` processes (the built binary) share one
/// PostgreSQL database while 300 containers are deployed through their APIs (30 applications of 10
/// replicas, three per round); ten times one process is killed with SIGKILL at a random point and
/// started again. The cluster's three nodes are registered through the API and need no engine:
/// placement is the control plane's decision (a container placed = a live row with a node), and no
/// agent is needed for it (nodes are kept `ready` by a long `CAAS_NODE_DOWN_AFTER`).
///
/// A client posts each application to any live server and retries a failed call on another with
/// the same `Idempotency-Key`. Each round waits for every application so far to be fully placed
/// and reports the time from the kill; at the end it counts requested, placed, lost and doubled.
@Suite(.serialized) struct ReplicaProcessKillTests {
    /// One replica: its ports stay the same across restarts.
    final class Replica: @unchecked Sendable {
        let name: String
        let apiPort: Int
        let agentPort: Int
        let environment: [String: String]
        private let lock = NSLock()
        private var _process: ServerProcessTests.ServerProcess?
        var process: ServerProcessTests.ServerProcess? { lock.lock(); defer { lock.unlock() }; return _process }

        init(name: String, apiPort: Int, agentPort: Int, environment: [String: String]) {
            self.name = name
            self.apiPort = apiPort
            self.agentPort = agentPort
            self.environment = environment
        }

        func start() throws {
            let started = try ServerProcessTests.ServerProcess(arguments: [], environment: environment.merging([
                "CAAS_LISTEN": "127.0.0.1:\(apiPort)", "CAAS_AGENT_LISTEN": "127.0.0.1:\(agentPort)",
            ]) { _, new in new })
            lock.lock(); _process = started; lock.unlock()
        }

        var isRunning: Bool { process?.process.isRunning ?? false }

        /// SIGKILL, and wait for the exit.
        func kill() async {
            guard let process, process.process.isRunning else { return }
            Glibc.kill(process.process.processIdentifier, SIGKILL)
            _ = await process.waitForExit(seconds: 10)
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func serverProcessesKilledWithSIGKILLLoseAndDoubleNoPlacement() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServerProcessTests.binary), "build caas-server first (swift build)")
        let database = try await TestPostgres.makeDatabase(label: "sigkill_replicas")
        let systemToken = try TokenSecret.generate()
        let environment = [
            "CAAS_DATABASE_URL": database.url,
            "CAAS_BOOTSTRAP_TOKEN": systemToken,
            "CAAS_SECRETS_KEY": String(repeating: "ab", count: 32),
            "CAAS_LOG_LEVEL": "warning",
            // A killed replica's claimed jobs are taken over after their lease (renewed while alive).
            "CAAS_JOB_LEASE": "2",
            // No agent heartbeats here: the nodes stay ready.
            "CAAS_NODE_DOWN_AFTER": "3600",
            "CAAS_SHUTDOWN_GRACE": "1",
            // A POST cut short by the kill holds its Idempotency-Key this long; the client's retry
            // on another replica gets 409 until then and runs after.
            "CAAS_IDEMPOTENCY_LEASE": "2",
        ]
        let replicas = try (0..<3).map { n in
            Replica(name: "s\(n)", apiPort: try ServerProcessTests.freePort(), agentPort: try ServerProcessTests.freePort(), environment: environment)
        }
        defer { for replica in replicas { replica.process?.stop() } }
        let client = try HTTPClient()
        defer { client.shutdown() }
        for replica in replicas { try replica.start() }
        for replica in replicas { try await ServerProcessTests.waitUntilServing(client, replica.apiPort, try #require(replica.process)) }

        final class Counter: @unchecked Sendable {
            private let lock = NSLock()
            private var value = 0
            func add() { lock.lock(); value += 1; lock.unlock() }
            var count: Int { lock.lock(); defer { lock.unlock() }; return value }
        }
        let retries = Counter()
        /// Calls any live replica, starting at `preferred`; a connection failure or a 5xx moves on to the next.
        @Sendable func call(_ method: HTTPMethod, _ path: String, token: String, body: String? = nil, key: String? = nil,
                            preferred: Int = 0) async throws -> (status: Int, json: [String: Any]) {
            var headers: HTTPClientHeaders = ["Authorization": "Bearer \(token)"]
            if let key { headers.add("Idempotency-Key", key) }
            if body != nil { headers.add("Content-Type", "application/json") }
            let deadline = Date().addingTimeInterval(30)
            var attempt = 0
            var last = ""
            while true {
                let replica = replicas[(preferred + attempt) % replicas.count]
                attempt += 1
                if replica.isRunning {
                    do {
                        let response = try await client.execute(HTTPClientRequest(method: method, url: "http://127.0.0.1:\(replica.apiPort)\(path)",
                                                                                  headers: headers, body: body.map { .bytes(Array($0.utf8)) } ?? .none),
                                                                timeout: .seconds(10))
                        let inProgress = response.status == 409 && response.bodyText.contains("idempotency-in-progress")
                        if response.status < 500 && !inProgress {
                            let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
                            return (response.status, json)
                        }
                        last = "\(replica.name): \(response.status) \(response.bodyText)"
                    } catch {
                        last = "\(replica.name): \(error)"
                    }
                }
                retries.add()
                guard Date() < deadline else { throw KillTestError.timeout("\(method) \(path) \(key ?? ""): \(attempt) attempts, the last \(last)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        let tenant = try await call(.post, "/v1/tenants", token: systemToken, body: #"{"name":"kill"}"#)
        let tenantID = try #require(tenant.json["id"] as? String, "\(tenant)")
        let admin = try #require(try await call(.post, "/v1/tenants/\(tenantID)/tokens", token: systemToken,
                                                body: #"{"name":"admin","role":"admin"}"#).json["secret"] as? String)
        let cluster = try #require(try await call(.post, "/v1/clusters", token: admin, body: #"{"name":"prod"}"#).json["id"] as? String)
        for n in 1...3 {
            let node = try await call(.post, "/v1/clusters/\(cluster)/nodes", token: admin, body: """
                {"name":"n\(n)","engine_endpoint":"unix:///run/caas-test/n\(n).sock","labels":{},"capacity":{"cpus":64,"memory_bytes":274877906944}}
                """)
            #expect(node.status == 201, "\(node)")
        }

        let placedPerApp = { @Sendable () async throws -> [String: Int] in
            try await database.pool.withConnection { c in
                var counts: [String: Int] = [:]
                for row in try c.query("""
                    SELECT application_id, count(*)::int8 AS n FROM containers
                    WHERE desired_state <> 'removed' AND node_id IS NOT NULL AND replaced_by IS NULL GROUP BY application_id
                    """) { counts[try row.decode("application_id")] = try row.decode("n") }
                return counts
            }
        }

        var rng = SplitMix(seed: 20261204)
        var apps: [String] = []
        var convergence: [Double] = []
        var restartsServing: [Double] = []
        let replicasPerApp = 10
        for round in 0..<10 {
            let deploying = Task { () throws -> [String] in
                var made: [String] = []
                for n in 0..<3 {
                    let compose = "services:\n  web:\n    image: busybox:1\n    deploy:\n      replicas: \(replicasPerApp)\n"
                    let body = #"{"name":"app-\#(round)-\#(n)","cluster_id":"\#(cluster)","compose":\#(jsonString(compose))}"#
                    let reply = try await call(.post, "/v1/apps", token: admin, body: body, key: "deploy-\(round)-\(n)", preferred: round + n)
                    if reply.status == 409, (reply.json["detail"] as? String)?.contains("exists") == true {
                        // The kill landed after the application committed and before its answer was
                        // kept for the key: the retry runs again and finds it there. The application
                        // exists once; the client cannot tell it was its own.
                        withKnownIssue("an Idempotency-Key's answer is not kept in the transaction of the change it answers", isIntermittent: true) {
                            Issue.record("deploy app-\(round)-\(n) retried after a kill: \(reply.status)")
                        }
                        let listed = try await call(.get, "/v1/apps?cluster_id=\(cluster)&name_prefix=app-\(round)-\(n)", token: admin)
                        let items = listed.json["items"] as? [[String: Any]] ?? []
                        guard let id = items.first(where: { $0["name"] as? String == "app-\(round)-\(n)" })?["id"] as? String else {
                            throw KillTestError.timeout("deploy app-\(round)-\(n): \(reply), and no such application listed")
                        }
                        made.append(id)
                        try await Task.sleep(for: .milliseconds(150))
                        continue
                    }
                    guard reply.status == 201 || reply.status == 202, let id = reply.json["id"] as? String else {
                        throw KillTestError.timeout("deploy app-\(round)-\(n): \(reply)")
                    }
                    made.append(id)
                    try await Task.sleep(for: .milliseconds(150))
                }
                return made
            }
            // A random point of the round's deploys (about 0.5 s): mid-request, mid-reconcile, or between.
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...450, using: &rng)))
            let live = replicas.filter(\.isRunning)
            let victim = live[Int.random(in: 0..<live.count, using: &rng)]
            let killedAt = Date()
            await victim.kill()
            apps += try await deploying.value
            try victim.start()
            let snapshot = apps
            var converged = false
            while Date().timeIntervalSince(killedAt) < 20 {
                let placed = try await placedPerApp()
                if snapshot.allSatisfy({ placed[$0] == replicasPerApp }) { converged = true; break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let took = Date().timeIntervalSince(killedAt)
            convergence.append(took)
            #expect(converged, "round \(round): converged after killing \(victim.name)")
            #expect(took < 5, "round \(round): converged \(took) s after killing \(victim.name)")
            // The killed replica serves again before the next round's kill.
            try await ServerProcessTests.waitUntilServing(client, victim.apiPort, try #require(victim.process))
            restartsServing.append(Date().timeIntervalSince(killedAt))
        }

        let totals: (apps: Int, live: Int, placedSlots: Int, doubled: Int, placedEvents: Int, doubledEvents: Int) =
            try await database.pool.withConnection { c in
                (try c.query("SELECT count(*)::int8 AS n FROM applications")[0].decode("n"),
                 try c.query("SELECT count(*)::int8 AS n FROM containers WHERE desired_state <> 'removed'")[0].decode("n"),
                 try c.query("""
                    SELECT count(DISTINCT (service_id, slot))::int8 AS n FROM containers
                    WHERE desired_state <> 'removed' AND node_id IS NOT NULL
                    """)[0].decode("n"),
                 try c.query("""
                    SELECT count(*)::int8 AS n FROM (SELECT service_id, slot FROM containers WHERE desired_state <> 'removed'
                    GROUP BY service_id, slot HAVING count(*) > 1) d
                    """)[0].decode("n"),
                 try c.query("SELECT count(*)::int8 AS n FROM events WHERE type = 'container.placed'")[0].decode("n"),
                 try c.query("""
                    SELECT count(*)::int8 AS n FROM (SELECT object_id FROM events WHERE type = 'container.placed'
                    GROUP BY object_id HAVING count(*) > 1) d
                    """)[0].decode("n"))
            }
        let requested = apps.count * replicasPerApp
        print("""
            SIGKILL replicas: requested \(requested) containers in \(apps.count) applications (applications created \(totals.apps)); \
            placed \(totals.placedSlots) slots (\(totals.live) live rows, \(totals.placedEvents) placed events, \(totals.doubledEvents) doubled events); \
            lost \(requested - totals.placedSlots), doubled \(totals.doubled); client calls retried on another replica \(retries.count); convergence after each kill (s): \
            \(convergence.map { String(format: "%.2f", $0) }); killed replica serving again after (s): \(restartsServing.map { String(format: "%.1f", $0) })
            """)
        #expect(totals.apps == apps.count && Set(apps).count == apps.count, "each application created once")
        #expect(totals.placedSlots == requested && totals.live == requested, "none lost, none doubled: \(totals)")
        #expect(totals.doubled == 0 && totals.doubledEvents == 0)
        #expect(totals.placedEvents == requested)
        for replica in replicas {
            replica.process?.stop()
            _ = await replica.process?.waitForExit(seconds: 10)
        }
    }
}

struct KillTestError: Error, CustomStringConvertible {
    var description: String
    static func timeout(_ what: String) -> KillTestError { KillTestError(description: what) }
}
