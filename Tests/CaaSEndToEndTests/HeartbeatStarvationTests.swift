import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSPostgres
import Foundation
import Testing

/// Issue 13 item 5, made to discriminate: the same flood of API requests runs against two control
/// planes that differ only in one switch — the agent channel on its own pool (as caas-server wires
/// it) or on the API's pool. The API pool is small (2 connections) and a request waits at most
/// 100 ms for one, so the flood exhausts it: requests queue (waiters seen on the pool) and some are
/// answered 503. With its own pool every heartbeat of the agent lands and no node changes status;
/// on the shared pool the same flood makes heartbeats miss — which is what the first run shows
/// cannot happen.
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
        var description: String {
            "API answers \(answered.sorted { $0.key < $1.key }), node statuses \(statuses.sorted()), heartbeats landed \(heartbeats) in 10 s, "
                + "longest silence \(String(format: "%.2f", longestSilence)) s, API pool exhausted in \(apiPoolExhaustedSamples)/\(samples) samples "
                + "(most waiting \(apiPoolMaxWaiting)), agent pool most waiting \(agentPoolMaxWaiting)"
        }
    }

    func flood(shared: Bool) async throws -> Outcome {
        async let enginesStarting = EngineHarness.shared.engines([shared ? "starve-shared" : "starve-own"])
        let cp = try await ControlPlaneUnderTest.start(shared ? "e2e_starve_shared" : "e2e_starve_own", apiConnections: 2,
                                                       apiAcquireTimeout: .milliseconds(100), sharedAgentPool: shared)
        let engines = try await enginesStarting
        let tenant = try await cp.makeTenant("starve")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: engines)
        let watcher = try PostgresConnection.connect(cp.database.pool.configuration.connection)
        defer { watcher.close() }
        let seconds = 10
        let deadline = ContinuousClock.now + .seconds(seconds)
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
        // The same flood on the shared pool makes heartbeats miss: the test above would fail there.
        #expect(shared.apiPoolExhaustedSamples > shared.samples / 2, "\(shared)")
        #expect(shared.heartbeats < own.heartbeats || shared.longestSilence > own.longestSilence + 1 || shared.statuses != ["ready"],
                "heartbeats on the API pool suffer from the flood: \(shared) vs \(own)")
    }
}
