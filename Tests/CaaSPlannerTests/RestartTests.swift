import CaaSModel
import Foundation
import Testing
@testable import CaaSPlanner

@Suite struct RestartTests {
    func exited(code: Int, restarts: Int = 0, ranFor: TimeInterval = 5, desired: DesiredContainerState = .running) -> ContainerSnapshot {
        container("ctr_1", slot: 1, node: 1, desired: desired, observed: .exited, restartCount: restarts, exitCode: code,
                  exitedAt: t0 + 100, startedAt: t0 + 100 - ranFor)
    }

    @Test func restartPolicyNoLeavesAnExitedContainerStopped() {
        let p = plan([node(1)], [service(spec(restart: .no))], [exited(code: 1)], now: t0 + 100)
        #expect(p.stops == [ContainerStop(containerID: "ctr_1", serviceID: "svc_web", reason: "web.1 exited with code 1; restart policy no: left stopped")])
        #expect(p.restarts.isEmpty)
        #expect(p.placements.isEmpty)
    }

    @Test func restartPolicyAlwaysRestartsInPlaceWithExponentialBackoff() {
        let p = plan([node(1), node(2)], [service(spec(restart: .always))], [exited(code: 0, restarts: 3)], now: t0 + 100)
        #expect(p.restarts == [ContainerRestart(
            containerID: "ctr_1", serviceID: "svc_web", slot: 1, generation: 1, nodeID: "nod_1", restartCount: 4, lastExitCode: 0,
            notBefore: t0 + 108, backoff: 8,
            reason: "web.1 exited with code 0; restart 4 after 8s backoff (policy always, crash loop)"
        )])
        #expect(p.placements.isEmpty)
        #expect(p.nextReviewAt == t0 + 108)
    }

    @Test func backoffDoublesFromOneSecondToAFiveMinuteCap() {
        let options = PlannerOptions()
        #expect((0...9).map { RestartBackoff.delay(afterRestarts: $0, options: options) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300])
        let p = plan([node(1)], [service(spec(restart: .always))], [exited(code: 1, restarts: 20)], now: t0 + 100)
        #expect(p.restarts.first?.notBefore == t0 + 400)
        #expect(p.restarts.first?.reason == "web.1 exited with code 1; restart 21 after 5m backoff (policy always, crash loop)")
    }

    @Test func backoffResetsAfterTenMinutesOfRunning() {
        let p = plan([node(1)], [service(spec(restart: .always))], [exited(code: 1, restarts: 7, ranFor: 600)], now: t0 + 100)
        #expect(p.restarts.first?.restartCount == 1)
        #expect(p.restarts.first?.notBefore == t0 + 101)
        #expect(p.restarts.first?.reason == "web.1 exited with code 1; restart 1 after 1s backoff (policy always)")
    }

    @Test func onFailureRestartsNonZeroExitsUpToTheMaximum() {
        let s = service(spec(restart: .onFailure(maximumRetries: 2)))
        let second = plan([node(1)], [s], [exited(code: 2, restarts: 1)], now: t0 + 100)
        #expect(second.restarts.map(\.restartCount) == [2])
        #expect(second.restarts.first?.notBefore == t0 + 102)

        let givenUp = plan([node(1)], [s], [exited(code: 2, restarts: 2)], now: t0 + 100)
        #expect(givenUp.restarts.isEmpty)
        #expect(givenUp.stops.map(\.reason) == ["web.1 exited with code 2; restart policy on-failure:2: gave up after 2 restarts"])
        #expect(givenUp.placements.isEmpty)
    }

    @Test func onFailureLeavesASuccessfulExitStopped() {
        let p = plan([node(1)], [service(spec(restart: .onFailure(maximumRetries: nil)))], [exited(code: 0)], now: t0 + 100)
        #expect(p.stops.map(\.reason) == ["web.1 exited with code 0; restart policy on-failure: completed"])
    }

    @Test func unlessStoppedRestartsExitsButNotAContainerTheUserStopped() {
        let s = service(spec(restart: .unlessStopped))
        let restarted = plan([node(1)], [s], [exited(code: 137)], now: t0 + 100)
        #expect(restarted.restarts.map(\.reason) == ["web.1 exited with code 137; restart 1 after 1s backoff (policy unless-stopped)"])
        let userStopped = plan([node(1)], [s], [exited(code: 0, desired: .stopped)], now: t0 + 100)
        #expect(userStopped.isEmpty)
    }

    @Test func alwaysBringsBackAStoppedContainerLostWithItsNodeButUnlessStoppedDoesNot() {
        let stoppedOnDownNode = [container("ctr_1", slot: 1, node: 1, desired: .stopped, observed: .lost)]
        let always = plan([node(1, .down), node(2)], [service(spec(restart: .always))], stoppedOnDownNode)
        #expect(always.placements.map(\.nodeID) == ["nod_2"])
        let unlessStopped = plan([node(1, .down), node(2)], [service(spec(restart: .unlessStopped))], stoppedOnDownNode)
        #expect(unlessStopped.placements.isEmpty)
    }

    @Test func restartMovesWhenItsNodeCannotTakeItAnyMore() {
        let p = plan([node(1, .draining), node(2)], [service(spec(restart: .always))], [exited(code: 1)], now: t0 + 100)
        #expect(p.restarts.isEmpty)
        #expect(p.placements.map(\.nodeID) == ["nod_2"])
        #expect(p.placements.first?.cause == .restart)
        #expect(p.placements.first?.notBefore == t0 + 101)
        #expect(p.removals.map(\.containerID) == ["ctr_1"])
    }

    @Test func unhealthyContainerIsRestartedByItsPolicy() {
        let sick = container("ctr_1", slot: 1, node: 1, health: .unhealthy)
        let p = plan([node(1)], [service(spec(restart: .always, healthcheck: true))], [sick], now: t0 + 100)
        #expect(p.restarts.map(\.reason) == ["web.1 is unhealthy; restart 1 after 1s backoff (policy always)"])
    }
}

@Suite struct AutoscalerTests {
    let policy = AutoScalingPolicy(maxCPU: 70, minCPU: 20, step: 2, minInstances: 2, maxInstances: 6)

    @Test func stepsUpAboveMaxCPU() {
        let d = Autoscaler.decide(policy: policy, currentReplicas: 3, cpuSamples: [80, 90], lastScaledAt: nil, cooldown: 60, now: t0)
        #expect(d == AutoscaleDecision(replicas: 5, changed: true, reason: "cpu 85.0% above 70%: scale up from 3 to 5"))
    }

    @Test func stepUpIsClampedToMaxInstances() {
        let d = Autoscaler.decide(policy: policy, currentReplicas: 5, cpuSamples: [99], lastScaledAt: nil, cooldown: 60, now: t0)
        #expect(d.replicas == 6)
        let atMax = Autoscaler.decide(policy: policy, currentReplicas: 6, cpuSamples: [99], lastScaledAt: nil, cooldown: 60, now: t0)
        #expect(atMax == AutoscaleDecision(replicas: 6, changed: false, reason: "cpu 99.0% above 70% but already at the maximum of 6"))
    }

    @Test func stepsDownBelowMinCPUNotUnderMinInstances() {
        let d = Autoscaler.decide(policy: policy, currentReplicas: 3, cpuSamples: [5, 10], lastScaledAt: nil, cooldown: 60, now: t0)
        #expect(d == AutoscaleDecision(replicas: 2, changed: true, reason: "cpu 7.5% below 20%: scale down from 3 to 2"))
    }

    @Test func holdsWithinBoundsAndDuringCooldown() {
        let within = Autoscaler.decide(policy: policy, currentReplicas: 3, cpuSamples: [50], lastScaledAt: nil, cooldown: 60, now: t0)
        #expect(within == AutoscaleDecision(replicas: 3, changed: false, reason: "cpu 50.0% within bounds: 3 replicas"))
        let cooling = Autoscaler.decide(policy: policy, currentReplicas: 3, cpuSamples: [95], lastScaledAt: t0 - 20, cooldown: 60, now: t0)
        #expect(cooling == AutoscaleDecision(replicas: 3, changed: false, reason: "cooling down for 40s more: 3 replicas"))
    }
}
