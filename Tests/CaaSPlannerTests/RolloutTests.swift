import CaaSModel
import Foundation
import Testing
@testable import CaaSPlanner

@Suite struct RolloutTests {
    let v1 = spec(replicas: 3, image: "nginx:1")
    func v2(_ update: UpdateConfig = UpdateConfig(parallelism: 1, monitorSeconds: 5)) -> ServiceSpec {
        spec(replicas: 3, update: update, image: "nginx:2")
    }
    let nodes = [node(1), node(2), node(3)]
    let generation1 = (1...3).map { container("ctr_\($0)", slot: $0, node: $0) }

    @Test func rollingUpdateReplacesOneBatchAtATimeGatedOnTheMonitorPeriod() {
        var s = service(v2(), generation: 2, previous: v1)
        var now = t0 + 100
        var p = plan(nodes, [s], generation1, now: now)
        #expect(p.rollouts.map(\.phase) == [.inProgress])
        #expect(p.rollouts.first?.reason == "rollout of web to generation 2: replacing 1 of 3 outdated (0/3 updated)")
        #expect(p.removals.map(\.containerID) == ["ctr_1"])
        #expect(p.placements.map(\.slot) == [1])
        #expect(p.replacements.map(\.order) == [.stopFirst])
        #expect(p.placements.first?.reason == "web.1 updated from generation 1 to 2 (stop-first) on node-1 (spread)")
        var containers = apply(p, to: generation1, now: now)
        s.rollout = p.rollouts.first

        // 2 s later the new container has not been up for the 5 s monitor period: wait.
        now += 2
        p = plan(nodes, [s], containers, now: now)
        #expect(p.placements.isEmpty && p.removals.isEmpty)
        #expect(p.rollouts.first?.reason == "rollout of web to generation 2: waiting for web.1 (ctr_s1g2_100) to stay ready for 5s (1/3 updated)")
        #expect(p.nextReviewAt == t0 + 105)

        var batches: [[Int]] = []
        for _ in 0..<10 {
            now += 5
            p = plan(nodes, [s], containers, now: now)
            if let r = p.rollouts.first { s.rollout = r }
            if !p.placements.isEmpty { batches.append(p.placements.map(\.slot)) }
            containers = apply(p, to: containers, now: now)
            if s.rollout?.phase == .succeeded { break }
        }
        #expect(batches == [[2], [3]])
        #expect(s.rollout?.phase == .succeeded)
        #expect(s.rollout?.reason == "web updated to generation 2 (3/3)")
        #expect(containers.allSatisfy { $0.generation == 2 })
        #expect(containers.count == 3)
    }

    @Test func parallelismZeroUpdatesEverythingAtOnceAndDelaySpacesBatches() {
        let all = service(v2(UpdateConfig(parallelism: 0, monitorSeconds: 0)), generation: 2, previous: v1)
        #expect(plan(nodes, [all], generation1).placements.count == 3)

        var s = service(v2(UpdateConfig(parallelism: 2, delaySeconds: 30, monitorSeconds: 0)), generation: 2, previous: v1)
        let first = plan(nodes, [s], generation1, now: t0)
        #expect(first.placements.map(\.slot) == [1, 2])
        s.rollout = first.rollouts.first
        let containers = apply(first, to: generation1, now: t0)
        let early = plan(nodes, [s], containers, now: t0 + 10)
        #expect(early.placements.isEmpty)
        #expect(early.waits.map(\.until) == [t0 + 30])
        #expect(plan(nodes, [s], containers, now: t0 + 30).placements.map(\.slot) == [3])
    }

    @Test func startFirstPlacesTheNewContainerBeforeRemovingTheOld() {
        var s = service(v2(UpdateConfig(parallelism: 1, order: .startFirst, monitorSeconds: 0)), generation: 2, previous: v1)
        let p = plan(nodes, [s], generation1, now: t0)
        #expect(p.removals.isEmpty)
        #expect(p.placements.map(\.slot) == [1])
        #expect(p.replacements.map(\.order) == [.startFirst])
        s.rollout = p.rollouts.first
        // The new one starts: both run, the old one still counts.
        var containers = generation1 + [container("ctr_new", slot: 1, node: 2, generation: 2, observed: .starting, createdAt: t0 + 1, startedAt: nil)]
        let waiting = plan(nodes, [s], containers, now: t0 + 2)
        #expect(waiting.removals.isEmpty && waiting.placements.isEmpty)
        // Ready: the old one is removed and the next batch begins.
        containers[3].observed = .running
        containers[3].startedAt = t0 + 3
        let next = plan(nodes, [s], containers, now: t0 + 4)
        #expect(next.removals.map(\.containerID) == ["ctr_1"])
        #expect(next.removals.first?.reason == "web.1 (ctr_1, generation 1) removed: replaced by ctr_new (generation 2), now ready")
        #expect(next.placements.map(\.slot) == [2])
    }

    @Test func healthCheckedContainersMustBeHealthyForTheMonitorPeriod() {
        var s = service(spec(replicas: 1, update: UpdateConfig(monitorSeconds: 10), image: "nginx:2", healthcheck: true), generation: 2,
                        previous: spec(replicas: 1, healthcheck: true))
        s.rollout = RolloutState(serviceID: "svc_web", fromGeneration: 1, toGeneration: 2, phase: .inProgress, startedAt: t0, deadline: t0 + 600, total: 1)
        let running = [container("ctr_n", slot: 1, node: 1, generation: 2, health: .starting, createdAt: t0 + 1, startedAt: t0 + 2)]
        #expect(plan(nodes, [s], running, now: t0 + 20).rollouts.first?.phase == .inProgress)
        let healthy = [container("ctr_n", slot: 1, node: 1, generation: 2, health: .healthy, createdAt: t0 + 1, startedAt: t0 + 2, healthySince: t0 + 15)]
        #expect(plan(nodes, [s], healthy, now: t0 + 20).rollouts.first?.phase == .inProgress)
        #expect(plan(nodes, [s], healthy, now: t0 + 25).rollouts.first?.phase == .succeeded)
    }

    @Test func failedNewContainerRollsBackToThePreviousGeneration() {
        var s = service(v2(UpdateConfig(parallelism: 1, failureAction: .rollback, monitorSeconds: 5)), generation: 2, previous: v1)
        let first = plan(nodes, [s], generation1, now: t0)
        s.rollout = first.rollouts.first
        var containers = apply(first, to: generation1, now: t0)
        let newID = first.placements.isEmpty ? "" : "ctr_s1g2_0"
        containers = containers.map { c in
            var c = c
            if c.id == newID { c.observed = .exited; c.lastExitCode = 1; c.lastExitAt = t0 + 2 }
            return c
        }
        let p = plan(nodes, [s], containers, now: t0 + 3)
        #expect(p.rollouts.first?.phase == .rollingBack)
        #expect(p.rollouts.first?.reason == "rollout of web to generation 2 failed: 1 failed (web.1 exited with code 1): rolling back to generation 1")
        #expect(p.placements.map(\.generation) == [1])
        #expect(p.placements.map(\.cause) == [.rollback])
        #expect(p.restarts.isEmpty)
        s.rollout = p.rollouts.first
        containers = apply(p, to: containers, now: t0 + 3)
        let done = plan(nodes, [s], containers, now: t0 + 10)
        #expect(done.rollouts.first?.phase == .rolledBack)
        #expect(done.rollouts.first?.reason == "web rolled back to generation 1 (3/3)")
        #expect(containers.allSatisfy { $0.generation == 1 })
    }

    @Test func failedNewContainerPausesTheRolloutWhenTheActionIsPause() {
        var s = service(v2(UpdateConfig(parallelism: 1, failureAction: .pause, monitorSeconds: 5)), generation: 2, previous: v1)
        s.rollout = RolloutState(serviceID: "svc_web", fromGeneration: 1, toGeneration: 2, phase: .inProgress, startedAt: t0, deadline: t0 + 600, total: 3)
        let containers = [
            container("ctr_n", slot: 1, node: 1, generation: 2, observed: .exited, exitCode: 3, exitedAt: t0 + 5, createdAt: t0 + 1),
            container("ctr_2", slot: 2, node: 2), container("ctr_3", slot: 3, node: 3),
        ]
        let p = plan(nodes, [s], containers, now: t0 + 6)
        #expect(p.rollouts.first?.phase == .paused)
        #expect(p.rollouts.first?.reason == "rollout of web to generation 2 paused: 1 failed (web.1 exited with code 3)")
        // No new batch; the failed container follows its restart policy.
        #expect(p.placements.isEmpty)
        #expect(p.restarts.map(\.containerID) == ["ctr_n"])
        s.rollout = p.rollouts.first
        #expect(plan(nodes, [s], containers, now: t0 + 7).rollouts.isEmpty)
    }

    @Test func failuresWithinTheRatioDoNotStopTheRollout() {
        var s = service(spec(replicas: 4, update: UpdateConfig(parallelism: 1, failureAction: .pause, maxFailureRatio: 0.3), image: "nginx:2"), generation: 2, previous: spec(replicas: 4))
        s.rollout = RolloutState(serviceID: "svc_web", fromGeneration: 1, toGeneration: 2, phase: .inProgress, startedAt: t0, deadline: t0 + 600, total: 4)
        let containers = [container("ctr_n", slot: 1, node: 1, generation: 2, observed: .exited, exitCode: 1, exitedAt: t0 + 5, createdAt: t0 + 1)]
            + (2...4).map { container("ctr_\($0)", slot: $0, node: $0 % 3 + 1) }
        let p = plan(nodes, [s], containers, now: t0 + 6)
        #expect(p.rollouts.first?.phase == .inProgress)
        #expect(p.rollouts.first?.failures == 1)
    }

    @Test func rolloutPastItsDeadlineFailsWhenTheActionIsPause() {
        var s = service(v2(UpdateConfig(parallelism: 1, failureAction: .pause)), generation: 2, previous: v1)
        s.rollout = RolloutState(serviceID: "svc_web", fromGeneration: 1, toGeneration: 2, phase: .inProgress, startedAt: t0, deadline: t0 + 600, updated: 1, total: 3)
        let stuck = [container("ctr_n", slot: 1, node: 1, generation: 2, observed: .starting, createdAt: t0 + 1, startedAt: nil),
                     container("ctr_2", slot: 2, node: 2), container("ctr_3", slot: 3, node: 3)]
        let p = plan(nodes, [s], stuck, now: t0 + 600)
        #expect(p.rollouts.first?.phase == .failed)
        #expect(p.rollouts.first?.endedAt == t0 + 600)
        #expect(p.rollouts.first?.reason == "rollout of web to generation 2 failed: deadline exceeded (1/3 updated)")
        #expect(p.placements.isEmpty)
    }

    @Test func rolloutPastItsDeadlineRollsBackWhenTheActionIsRollbackAndTheRollbackHasItsOwnDeadline() {
        var s = service(v2(UpdateConfig(parallelism: 1, failureAction: .rollback)), generation: 2, previous: v1)
        s.rollout = RolloutState(serviceID: "svc_web", fromGeneration: 1, toGeneration: 2, phase: .inProgress, startedAt: t0, deadline: t0 + 600, total: 3)
        let stuck = [container("ctr_n", slot: 1, node: 1, generation: 2, observed: .starting, createdAt: t0 + 1, startedAt: nil),
                     container("ctr_2", slot: 2, node: 2), container("ctr_3", slot: 3, node: 3)]
        let p = plan(nodes, [s], stuck, now: t0 + 700)
        #expect(p.rollouts.first?.phase == .rollingBack)
        #expect(p.rollouts.first?.deadline == t0 + 1300)
        #expect(p.placements.map(\.generation) == [1])

        s.rollout = p.rollouts.first
        let late = plan(nodes, [s], stuck, now: t0 + 1300)
        #expect(late.rollouts.first?.phase == .failed)
        #expect(late.rollouts.first?.reason == "rollback of web to generation 1 failed: deadline exceeded (2/3 updated)")
    }

    @Test func pausedRolloutFailsAtItsDeadline() {
        var s = service(v2(), generation: 2, previous: v1)
        s.rollout = RolloutState(serviceID: "svc_web", fromGeneration: 1, toGeneration: 2, phase: .paused, startedAt: t0, deadline: t0 + 600, updated: 1, total: 3)
        let p = plan(nodes, [s], generation1, now: t0 + 601)
        #expect(p.rollouts.first?.phase == .failed)
        #expect(p.rollouts.first?.reason == "rollout of web to generation 2 failed: paused until its deadline (1/3 updated)")
    }

    @Test func scalingUpANewServiceStartsNoRollout() {
        let p = plan(nodes, [service(v2(), generation: 2, previous: v1)])
        #expect(p.rollouts.isEmpty)
        #expect(p.placements.map(\.generation) == [2, 2, 2])
    }
}
