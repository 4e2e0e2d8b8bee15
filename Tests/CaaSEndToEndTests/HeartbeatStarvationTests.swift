import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import CaaSPostgres
import Foundation
import Testing

/// Issue 13 item 5, made to discriminate: the same flood of API requests runs against two control
/// planes that differ only in one switch — the agent channel on its own pool (as caas-server wires
/// it) or on the API's pool. The API pool is small (2 connections) and a request waits at most
/// 50 ms for one. So that the starvation does not depend on how fast the machine is, the test
/// itself holds both API connections (in `pg_sleep`) for the whole flood: every API request
/// queues and is answered 503, whatever the machine. Meanwhile the test sends heartbeats of its own over the agent's mTLS channel (with
/// its certificate), next to the real agent's. With its own pool every heartbeat succeeds and no
/// node changes status; on the shared pool the same flood has heartbeats refused — so the
/// first run's assertions would fail if heartbeats shared the API's connections.
@Suite(.serialized) struct HeartbeatStarvationTests {
    struct Outcome: CustomStringConvertible {
        var answered: [Int: Int] = [:]
        var statuses: Set<String> = []
        var heartbeats = 0
        var longestSilence: Double = 0
        var apiPoolMaxWaiting = 0
        var apiPoolExhaustedSamples = 0
        var agentPoolMaxWaiting = 0
        var samples = 0
        /// The test's own heartbeats (with the agent's certificate, over its mTLS channel).
        var probeBeats = 0
        var probeFailures: [String: Int] = [:]
        var probeSlowest: Double = 0
        var probeMedian: Double = 0
        var description: String {
            "probe heartbeats \(probeBeats) (failed \(probeFailures), median \(String(format: "%.1f", probeMedian * 1000)) ms, slowest \(String(format: "%.1f", probeSlowest * 1000)) ms); "
                + "API answers \(answered.sorted { $0.key < $1.key }), node statuses \(statuses.sorted()), heartbeats landed \(heartbeats) in 10 s, "
                + "longest silence \(String(format: "%.2f", longestSilence)) s, API pool exhausted in \(apiPoolExhaustedSamples)/\(samples) samples "
                + "(most waiting \(apiPoolMaxWaiting)), agent pool most waiting \(agentPoolMaxWaiting)"
        }
    }

    func flood(shared: Bool) async throws -> Outcome {
        async let enginesStarting = EngineHarness.shared.engines([shared ? "starve-shared" : "starve-own"])
        let cp = try await ControlPlaneUnderTest.start(shared ? "e2e_starve_shared" : "e2e_starve_own", apiConnections: 2,
                                                       apiAcquireTimeout: .milliseconds(50), sharedAgentPool: shared)
        let engines = try await enginesStarting
        let tenant = try await cp.makeTenant("starve")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: engines)
        let watcher = try PostgresConnection.connect(cp.database.pool.configuration.connection)
        defer { watcher.close() }
        let seconds = 10
        let deadline = ContinuousClock.now + .seconds(seconds)
        // Every connection of the API's pool, held until the flood ends (the hogs are what a slow
        // query or a burst would be; on a fast machine the flood alone may not exhaust the pool).
        let pool = cp.database.pool
        let holding = HoldCount()
        let hogs = (0..<2).map { _ in
            Task {
                // The pool's 50 ms acquire bound applies to the hogs too: try until one holds.
                while ContinuousClock.now < deadline {
                    do {
                        try await pool.withConnection { connection in
                            holding.add()
                            try connection.execute("SELECT pg_sleep(\(seconds + 1))")
                        }
                        return
                    } catch { try? await Task.sleep(for: .milliseconds(5)) }
                }
            }
        }
        while holding.value < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(holding.value == 2, "the test holds both API connections")
        let flooders = (0..<64).map { n in
            Task {
                var answered: [Int: Int] = [:]
                while ContinuousClock.now < deadline {
                    let path = ["/v1/apps?limit=100", "/v1/nodes?limit=100", "/v1/clusters", "/v1/events?limit=50"][n % 4]
                    let status = (try? await cp.call(.get, path, token: tenant.admin))?.status ?? 0
                    answered[status, default: 0] += 1
                }
                return answered
            }
        }
        // Heartbeats of the test's own, as the agent sends them, timed one by one.
        let nodeID = try #require(agent.runtime.nodes.first?.nodeId)
        let probeClient = try ControlPlaneClient(directory: AgentStateDirectory(path: agent.stateDirectory))
        defer { probeClient.shutdown() }
        let generation = await agent.runtime.agent.appliedGeneration
        let probes = (0..<4).map { _ in
            Task { () -> (times: [Double], failures: [String: Int]) in
                var times: [Double] = []
                var failures: [String: Int] = [:]
                while ContinuousClock.now < deadline {
                    let beat = Heartbeat(clusterId: agent.clusterID, agentVersion: "probe", appliedGeneration: generation, sentAt: Date(),
                                         nodes: [NodeObservation(nodeId: nodeID, engineReachable: true, cpus: 2, memoryBytes: 1 << 30, observedAt: Date())])
                    let start = ContinuousClock.now
                    do {
                        try await probeClient.beat(beat)
                        let took = ContinuousClock.now - start
                        times.append(Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
                    } catch AgentJoinError.refused(let status, _) {
                        failures["\(status)", default: 0] += 1
                    } catch {
                        failures["\(type(of: error))", default: 0] += 1
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return (times, failures)
            }
        }
        var outcome = Outcome()
        var beats: [Date] = []
        let started = Date()
        while ContinuousClock.now < deadline {
            for row in try watcher.query("SELECT status, last_heartbeat_at FROM nodes") {
                outcome.statuses.insert(try row.decode("status"))
                if let at: Date = try row.decode("last_heartbeat_at"), at > started, at != beats.last { beats.append(at) }
            }
            let api = cp.database.pool.statistics
            outcome.samples += 1
            outcome.apiPoolMaxWaiting = max(outcome.apiPoolMaxWaiting, api.waiting)
            if api.waiting > 0 { outcome.apiPoolExhaustedSamples += 1 }
            outcome.agentPoolMaxWaiting = max(outcome.agentPoolMaxWaiting, cp.agentPool.statistics.waiting)
            try await Task.sleep(for: .milliseconds(50))
        }
        for flooder in flooders { for (status, count) in await flooder.value { outcome.answered[status, default: 0] += count } }
        for hog in hogs { _ = try? await hog.value }
        var times: [Double] = []
        for probe in probes {
            let (t, f) = await probe.value
            times += t
            for (k, v) in f { outcome.probeFailures[k, default: 0] += v }
        }
        times.sort()
        outcome.probeBeats = times.count + outcome.probeFailures.values.reduce(0, +)
        outcome.probeSlowest = times.last ?? 0
        outcome.probeMedian = times.isEmpty ? 0 : times[times.count / 2]
        outcome.heartbeats = beats.count
        let marks = [started] + beats + [Date()]
        outcome.longestSilence = zip(marks, marks.dropFirst()).map { $1.timeIntervalSince($0) }.max() ?? 0
        await agent.stop()
        await cp.stop()
        return outcome
    }

    @Test(.timeLimit(.minutes(3)))
    func heartbeatsOnTheirOwnPoolOutlastAFloodThatStarvesTheSharedOne() async throws {
        let own = try await flood(shared: false)
        print("heartbeat flood, agent channel on its own pool: \(own)")
        let shared = try await flood(shared: true)
        print("heartbeat flood, agent channel on the API pool (the wrong wiring): \(shared)")

        // The flood really exhausted the API pool, in both runs: requests queued and some were refused.
        #expect(own.apiPoolExhaustedSamples > own.samples / 2, "the API pool was exhausted most of the time: \(own)")
        #expect(own.answered[503, default: 0] > 0, "the exhausted API answered 503: \(own)")
        #expect(own.answered[500, default: 0] == 0)
        // …and yet, on their own pool, the heartbeats kept landing at their pace (1 s) and no node moved.
        #expect(own.statuses == ["ready"], "a node changed status under the flood: \(own)")
        #expect(own.heartbeats >= 8, "heartbeats kept landing: \(own)")
        #expect(own.longestSilence < 2.5, "no heartbeat gap: \(own)")
        #expect(own.agentPoolMaxWaiting == 0, "nothing ever waited for the agent channel's connections: \(own)")
        #expect(own.probeBeats > 100 && own.probeFailures.isEmpty, "every heartbeat succeeded while the API answered 503: \(own)")
        // The same flood on the shared pool refuses heartbeats too: the assertions above would fail there.
        #expect(shared.apiPoolExhaustedSamples > shared.samples / 2, "\(shared)")
        #expect(shared.probeFailures.values.reduce(0, +) > shared.probeBeats / 2, "heartbeats on the API pool are refused under the flood: \(shared)")
        // Refused as the API refuses: 503 (the agent tries again), never a 500.
        #expect(shared.probeFailures["500"] == nil && (shared.probeFailures["503"] ?? 0) > 0, "\(shared.probeFailures)")
    }
}

/// How many hogs hold an API connection.
private final class HoldCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
