import Testing
import CaaSModel
@testable import CaaSAgent

@Suite struct ExecutorPlanTests {
    static let cluster = "clu_test"

    static func want(_ id: String, slot: Int = 1, state: DesiredContainerState = .running) -> DesiredContainer {
        DesiredContainer(containerId: id, tenantId: "ten_1", appId: "app_1", appName: "shop", serviceName: "web",
                         slot: slot, generation: 1, image: "img", state: state, stopGracePeriodSeconds: 2)
    }

    static func engine(_ engineId: String, for id: String?, _ status: ObservedEngineContainer.Status,
                       cluster: String = cluster, created: Int64 = 0) -> ObservedEngineContainer {
        var labels = ["other": "x"]
        if let id {
            labels[ContainerLabels.container] = id
            labels[ContainerLabels.cluster] = cluster
        }
        return ObservedEngineContainer(engineId: engineId, name: "n-\(engineId)", labels: labels, status: status, createdAt: created)
    }

    func plan(_ desired: [DesiredContainer], _ observed: [ObservedEngineContainer], adopted: Set<String> = []) -> [ExecutorAction] {
        ExecutorPlanner.plan(clusterId: Self.cluster, desired: desired, observed: observed, adopted: adopted).map(\.action)
    }

    @Test func missingRunningContainersAreCreatedAndStarted() {
        let a = Self.want("ctr_a"), b = Self.want("ctr_b", slot: 2)
        #expect(plan([b, a], []) == [.create(a, start: true), .create(b, start: true)])
    }

    @Test func runningContainersAreAdoptedOnceNeverRestarted() {
        let a = Self.want("ctr_a")
        #expect(plan([a], [Self.engine("e1", for: "ctr_a", .running)]) == [.adopt(engineId: "e1", containerId: "ctr_a")])
        #expect(plan([a], [Self.engine("e1", for: "ctr_a", .running)], adopted: ["ctr_a"]) == [.leave(engineId: "e1", containerId: "ctr_a")])
    }

    @Test func createdButNotStartedIsStarted() {
        #expect(plan([Self.want("ctr_a")], [Self.engine("e1", for: "ctr_a", .created)]) == [.start(engineId: "e1", containerId: "ctr_a")])
    }

    @Test func exitedContainersAreLeftForTheControlPlane() {
        let actions = ExecutorPlanner.plan(clusterId: Self.cluster, desired: [Self.want("ctr_a")], observed: [Self.engine("e1", for: "ctr_a", .exited)])
        #expect(actions.map(\.action) == [.leave(engineId: "e1", containerId: "ctr_a")])
        #expect(actions[0].reason.contains("control plane"))
    }

    @Test func scaleDownRemovesContainersMissingFromTheDesiredStateFirst() {
        let a = Self.want("ctr_a")
        let actions = plan([a, Self.want("ctr_c")], [Self.engine("e1", for: "ctr_a", .running), Self.engine("e2", for: "ctr_b", .running)], adopted: ["ctr_a"])
        #expect(actions == [
            .remove(engineId: "e2", containerId: "ctr_b", graceSeconds: 10),
            .create(Self.want("ctr_c"), start: true),
            .leave(engineId: "e1", containerId: "ctr_a"),
        ])
    }

    @Test func desiredStoppedStopsWithItsGracePeriodAndRemovedRemoves() {
        let stopped = Self.want("ctr_a", state: .stopped), removed = Self.want("ctr_b", state: .removed)
        #expect(plan([stopped, removed], [Self.engine("e1", for: "ctr_a", .running), Self.engine("e2", for: "ctr_b", .exited)]) == [
            .remove(engineId: "e2", containerId: "ctr_b", graceSeconds: 2),
            .stop(engineId: "e1", containerId: "ctr_a", graceSeconds: 2),
        ])
        #expect(plan([removed], []) == [.leave(engineId: nil, containerId: "ctr_b")])
    }

    @Test func foreignContainersAreNeverTouched() {
        let observed = [
            Self.engine("mine", for: nil, .running),
            Self.engine("other", for: "ctr_z", .running, cluster: "clu_other"),
        ]
        #expect(plan([], observed).isEmpty)
        #expect(plan([Self.want("ctr_z")], observed) == [.create(Self.want("ctr_z"), start: true)])
    }

    @Test func duplicatesKeepTheLiveCopy() {
        let actions = plan([Self.want("ctr_a")], [
            Self.engine("old", for: "ctr_a", .running, created: 1),
            Self.engine("new", for: "ctr_a", .created, created: 2),
        ])
        #expect(actions == [.remove(engineId: "new", containerId: "ctr_a", graceSeconds: 2), .adopt(engineId: "old", containerId: "ctr_a")])
    }

    @Test func namesAndLabelsFollowTheConvention() {
        var want = Self.want("ctr_k3v9abcdxyzw12345678")
        want.appName = "my app"
        want.labels = ["team": "a", "caas.app": "forged"]
        #expect(ContainerNaming.name(for: want) == "caas-my_app-web-1-k3v9abcd")
        let labels = ContainerLabels.labels(for: want, clusterId: "clu_x")
        #expect(labels["caas.app"] == "app_1")
        #expect(labels["caas.container"] == want.containerId)
        #expect(labels["caas.tenant"] == "ten_1")
        #expect(labels["caas.service"] == "web")
        #expect(labels["caas.generation"] == "1")
        #expect(labels["caas.cluster"] == "clu_x")
        #expect(labels["team"] == "a")
    }

    @Test func aDeadContainerIsRestartedInPlaceOnlyWhenTheControlPlaneIsOutOfReach() {
        let a = Self.want("ctr_a"), dead = Self.engine("e1", for: "ctr_a", .exited)
        #expect(plan([a], [dead]) == [.leave(engineId: "e1", containerId: "ctr_a")], "the control plane replaces it")
        let local = ExecutorPlanner.plan(clusterId: Self.cluster, desired: [a], observed: [dead], restartLocally: ["ctr_a"])
        #expect(local.map(\.action) == [.start(engineId: "e1", containerId: "ctr_a")])
        #expect(local.first?.reason.contains("out of reach") == true)
    }

    @Test func localRestartsFollowTheRestartPolicyWithABackoff() {
        #expect(!LocalRestart.allows(nil, exitCode: 1, restartsSoFar: 0, sinceLast: nil), "an older control plane sent no policy")
        #expect(!LocalRestart.allows(.no, exitCode: 1, restartsSoFar: 0, sinceLast: nil))
        #expect(LocalRestart.allows(.always, exitCode: 0, restartsSoFar: 0, sinceLast: nil))
        #expect(LocalRestart.allows(.unlessStopped, exitCode: nil, restartsSoFar: 0, sinceLast: nil))
        #expect(!LocalRestart.allows(.onFailure(maximumRetries: nil), exitCode: 0, restartsSoFar: 0, sinceLast: nil), "a clean exit stays")
        #expect(LocalRestart.allows(.onFailure(maximumRetries: 2), exitCode: 137, restartsSoFar: 1, sinceLast: .seconds(5)))
        #expect(!LocalRestart.allows(.onFailure(maximumRetries: 2), exitCode: 137, restartsSoFar: 2, sinceLast: .seconds(99)), "retries used up")
        // 1 s, 2 s, 4 s, … at most 60 s between restarts.
        #expect(!LocalRestart.allows(.always, exitCode: 1, restartsSoFar: 3, sinceLast: .seconds(7)))
        #expect(LocalRestart.allows(.always, exitCode: 1, restartsSoFar: 3, sinceLast: .seconds(8)))
        #expect(LocalRestart.backoff(afterRestarts: 40) == .seconds(60))
        #expect(ObservedEngineContainer.exitCode(fromStatus: "Exited (137) 5 seconds ago") == 137)
        #expect(ObservedEngineContainer.exitCode(fromStatus: "Up 3 minutes") == nil)
    }

    @Test func theControlPlaneIsOutOfReachOnlyAfterItWasHeardAndThenFellSilent() {
        let contact = ControlPlaneContact(outOfReachAfter: .seconds(5))
        let start = ContinuousClock.now
        #expect(!contact.isOutOfReach(at: start + .seconds(100)), "never heard: nothing to keep")
        contact.heard(at: start)
        #expect(!contact.isOutOfReach(at: start + .seconds(4)))
        #expect(contact.isOutOfReach(at: start + .seconds(5)))
        contact.heard(at: start + .seconds(6))
        #expect(!contact.isOutOfReach(at: start + .seconds(7)))
    }
}
