import CaaSModel
@testable import CaaSServer
import CaaSStore
import CaaSTestSupport
import CaaSWorkersTestSupport
import Foundation
import Testing

/// Issue 13 item 4: three replicas of the workers share the database while 300 containers are
/// deployed; ten times a replica dies at a random point (its tasks end and its sessions close, as
/// when its process is killed) and a fresh one starts. Each time everything converges within 5 s,
/// and at the end no placement is lost or doubled.
@Suite(.serialized) struct ReplicaKillTests {
    @Test(.timeLimit(.minutes(4)))
    func replicasKilledMidWorkLoseAndDoubleNothing() async throws {
        let h = try await WorkersHarness.make("wk_kill_scale")
        defer { Task { await h.shutdown() } }
        var live = ["r0", "r1", "r2"]
        for name in live { h.startReplica(name) }
        var rng = SplitMix(seed: 20261203)
        var apps: [String] = []
        var convergence: [Double] = []
        for round in 0..<10 {
            // Three applications of ten replicas each, while a replica dies at a random moment.
            let deploying = Task {
                var made: [String] = []
                for n in 0..<3 { made.append(try await h.deploy("app-\(round)-\(n)", compose: WorkerCompose.web(replicas: 10)).app) }
                return made
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400, using: &rng)))
            let victim = live.remove(at: Int.random(in: 0..<live.count, using: &rng))
            let killedAt = Date()
            await h.kill(victim)
            apps += try await deploying.value
            let fresh = "r\(round + 3)"
            h.startReplica(fresh)
            live.append(fresh)
            let snapshot = apps
            let converged = try await h.eventually(15) {
                for app in snapshot where try await h.running(app: app).count != 10 { return false }
                return true
            }
            let took = Date().timeIntervalSince(killedAt)
            convergence.append(took)
            #expect(converged, "round \(round): converged after killing \(victim)")
            #expect(took < 5, "round \(round): converged \(took) s after killing \(victim)")
        }
        let totals: (containers: Int, doubled: Int, placed: Int) = try await h.api.raw { c in
            (try c.query("SELECT count(*)::int8 AS n FROM containers WHERE desired_state <> 'removed'")[0].decode("n"),
             try c.query("""
                SELECT count(*)::int8 AS n FROM (SELECT service_id, slot FROM containers WHERE desired_state <> 'removed'
                GROUP BY service_id, slot HAVING count(*) > 1) d
                """)[0].decode("n"),
             try c.query("SELECT count(*)::int8 AS n FROM events WHERE type = 'container.placed'")[0].decode("n"))
        }
        let running = await h.agent.runningIDs().count
        print("replica kills: requested \(apps.count * 10) containers, placed \(totals.placed), live \(totals.containers), running on the agent \(running), doubled slots \(totals.doubled); convergence after each kill (s): \(convergence.map { String(format: "%.2f", $0) })")
        #expect(totals.containers == apps.count * 10 && totals.placed == apps.count * 10, "none lost, none doubled: \(totals)")
        #expect(totals.doubled == 0)
        #expect(running == apps.count * 10)
    }
}
