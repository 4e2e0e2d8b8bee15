import CaaSModel
import Foundation
import Testing
@testable import CaaSPlanner

@Suite struct PlacementTests {
    @Test func spreadPutsEachContainerOnTheNodeWithFewestOfTheServiceThenFewestOverall() {
        let nodes = [node(1, other: NodeUsage(containerCount: 5)), node(2), node(3, other: NodeUsage(containerCount: 2))]
        let p = plan(nodes, [service(spec(replicas: 4))])
        #expect(p.placements.map(\.nodeID) == ["nod_2", "nod_3", "nod_1", "nod_2"])
        #expect(p.placements.map(\.slot) == [1, 2, 3, 4])
        #expect(p.placements[0].reason == "web.1 created (4 replicas wanted, 0 exist) on node-2 (spread)")
        #expect(p.unplaced.isEmpty)
    }

    @Test func spreadCountsTheServiceContainersAlreadyRunning() {
        let nodes = [node(1), node(2)]
        let existing = [container("ctr_a", slot: 1, node: 1), container("ctr_b", slot: 2, node: 1)]
        let p = plan(nodes, [service(spec(replicas: 4))], existing)
        #expect(p.nodesBySlot == [3: "nod_2", 4: "nod_2"])
    }

    @Test func spreadOverAZBalancesZonesBeforeNodes() {
        // az a has three nodes, az b one: zones are balanced first, so b's single node takes half.
        let nodes = [node(1, labels: ["az": "a"]), node(2, labels: ["az": "a"]), node(3, labels: ["az": "a"]), node(4, labels: ["az": "b"])]
        let p = plan(nodes, [service(spec(replicas: 4, placement: Placement(spreadOver: ["az"]))) ])
        #expect(p.placementCount(on: "nod_4") == 2)
        #expect(p.placements.map(\.nodeID) == ["nod_1", "nod_4", "nod_2", "nod_4"])
    }

    @Test func spreadOverPutsNodesWithoutTheLabelInAGroupOfTheirOwn() {
        let nodes = [node(1, labels: ["az": "a"]), node(2, labels: ["az": "a"]), node(3)]
        let p = plan(nodes, [service(spec(replicas: 2, placement: Placement(spreadOver: ["az"])))])
        #expect(p.placements.map(\.nodeID) == ["nod_1", "nod_3"])
    }

    @Test func binpackFillsTheMostAllocatedNodeThatFits() {
        let nodes = [node(1, cpus: 4), node(2, cpus: 4, other: NodeUsage(cpus: 2)), node(3, cpus: 4, other: NodeUsage(cpus: 1))]
        let p = plan(nodes, [service(spec(replicas: 3, cpus: 1, placement: Placement(strategy: .binpack)))])
        // node-2 (50%) takes two until full, then node-3 (25%).
        #expect(p.placements.map(\.nodeID) == ["nod_2", "nod_2", "nod_3"])
        #expect(p.placements[0].reason.hasSuffix("on node-2 (binpack)"))
    }

    @Test func labelEqualityConstraintLimitsNodes() {
        let nodes = [node(1, labels: ["az": "1"]), node(2, labels: ["az": "2"]), node(3, labels: ["az": "2"])]
        let p = plan(nodes, [service(spec(replicas: 2, placement: Placement(constraints: [label("az", .equal, "2")])))])
        #expect(Set(p.placements.map(\.nodeID)) == ["nod_2", "nod_3"])
    }

    @Test func labelInequalityConstraintExcludesMatchingNodesAndKeepsNodesWithoutTheLabel() {
        let nodes = [node(1, labels: ["type": "gpu"]), node(2, labels: ["type": "cpu"]), node(3)]
        let p = plan(nodes, [service(spec(replicas: 4, placement: Placement(constraints: [label("type", .notEqual, "gpu")])))])
        #expect(p.placementCount(on: "nod_1") == 0)
        #expect(p.placementCount(on: "nod_2") == 2)
        #expect(p.placementCount(on: "nod_3") == 2)
    }

    @Test func regexConstraintMustMatchTheWholeValue() {
        let regex = PlacementConstraint(attribute: .nodeLabel("type"), op: .equal, value: .pattern("gpu-[0-9]+"), source: "type==/gpu-[0-9]+/")
        let nodes = [node(1, labels: ["type": "gpu-1"]), node(2, labels: ["type": "gpu-12x"]), node(3, labels: ["type": "xgpu-1"])]
        let p = plan(nodes, [service(spec(replicas: 3, placement: Placement(constraints: [regex])))])
        #expect(p.placements.map(\.nodeID) == ["nod_1", "nod_1", "nod_1"])
    }

    @Test func regexInequalityConstraintOnNodeNameExcludesMatches() {
        let regex = PlacementConstraint(attribute: .nodeName, op: .notEqual, value: .pattern("node-[12]"), source: "node.name!=/node-[12]/")
        let p = plan([node(1), node(2), node(3)], [service(spec(replicas: 2, placement: Placement(constraints: [regex])))])
        #expect(p.placements.map(\.nodeID) == ["nod_3", "nod_3"])
    }

    @Test func nodeIDConstraintPinsTheService() {
        let pin = PlacementConstraint(attribute: .nodeID, op: .equal, value: .exact("nod_2"), source: "node.id==nod_2")
        let p = plan([node(1), node(2), node(3)], [service(spec(replicas: 2, placement: Placement(constraints: [pin])))])
        #expect(p.placements.map(\.nodeID) == ["nod_2", "nod_2"])
    }

    @Test func availabilityZoneConstraintIsALabelConstraint() {
        let nodes = [node(1, labels: ["az": "1"]), node(2, labels: ["az": "2"])]
        let p = plan(nodes, [service(spec(replicas: 1, placement: Placement(constraints: [label("az", .equal, "1")])))])
        #expect(p.placements.map(\.nodeID) == ["nod_1"])
    }

    @Test func unmetConstraintIsExplained() {
        let p = plan([node(1), node(2, .paused)], [service(spec(replicas: 1, placement: Placement(constraints: [label("az", .equal, "9")])))])
        #expect(p.placements.isEmpty)
        #expect(p.unplaced == [Unplaced(serviceID: "svc_web", slots: [1], explanation: "0/2 nodes are available: 1 paused, 1 constraint not met")])
    }

    @Test func insufficientMemoryAndDrainingNodesAreCountedPerReason() {
        let nodes = [node(1, memory: gib), node(2, memory: gib), node(3, memory: gib), node(4, .draining), node(5, .draining)]
        let p = plan(nodes, [service(spec(replicas: 1, memory: 2 * gib))])
        #expect(p.unplaced.first?.explanation == "0/5 nodes are available: 3 insufficient memory, 2 draining")
    }

    @Test func memoryReservationsAreCountedIncrementally() {
        let nodes = [node(1, memory: 4 * gib), node(2, memory: 4 * gib)]
        let p = plan(nodes, [service(spec(replicas: 5, memory: 2 * gib))])
        #expect(p.placements.count == 4)
        #expect(p.unplaced == [Unplaced(serviceID: "svc_web", slots: [5], explanation: "0/2 nodes are available: 2 insufficient memory")])
    }

    @Test func cpuReservationsRespectWhatOtherContainersHold() {
        let nodes = [node(1, cpus: 2, other: NodeUsage(cpus: 1.5)), node(2, cpus: 2), node(3, .down)]
        let p = plan(nodes, [service(spec(replicas: 3, cpus: 1))])
        #expect(p.placements.map(\.nodeID) == ["nod_2", "nod_2"])
        #expect(p.unplaced.first?.explanation == "0/3 nodes are available: 2 insufficient cpu, 1 down")
    }

    @Test func hostPortInUseOnANodeRejectsIt() {
        let nodes = [node(1, other: NodeUsage(hostPorts: [HostPort(80)])), node(2)]
        let p = plan(nodes, [service(spec(replicas: 1, ports: [80]))])
        #expect(p.placements.map(\.nodeID) == ["nod_2"])
    }

    @Test func hostPortsTakenEarlierInTheSamePlanConflict() {
        let p = plan([node(1), node(2)], [service(spec(replicas: 3, ports: [8080]))])
        #expect(p.placements.map(\.nodeID) == ["nod_1", "nod_2"])
        #expect(p.unplaced.first?.explanation == "0/2 nodes are available: 2 host port in use")
    }

    @Test func hostPortsAcrossServicesConflictToo() {
        let p = plan([node(1), node(2)], [service(spec("a", replicas: 1, ports: [80])), service(spec("b", replicas: 2, ports: [80]))])
        #expect(p.placements.filter { $0.serviceID == "svc_a" }.map(\.nodeID) == ["nod_1"])
        #expect(p.placements.filter { $0.serviceID == "svc_b" }.map(\.nodeID) == ["nod_2"])
        #expect(p.unplaced == [Unplaced(serviceID: "svc_b", slots: [2], explanation: "0/2 nodes are available: 2 host port in use")])
    }

    @Test func maxPerNodeCapsContainersOfTheServiceOnOneNode() {
        let p = plan([node(1), node(2)], [service(spec(replicas: 5, placement: Placement(maxPerNode: 2)))])
        #expect(p.placements.count == 4)
        #expect(p.unplaced.first?.explanation == "0/2 nodes are available: 2 max replicas per node reached")
    }

    @Test func unplacedContainersArePlacedOnceANodeIsAdded() {
        let s = service(spec(replicas: 2, memory: 3 * gib))
        let first = plan([node(1, memory: 4 * gib)], [s])
        #expect(first.placements.map(\.slot) == [1])
        #expect(first.unplaced == [Unplaced(serviceID: "svc_web", slots: [2], explanation: "0/1 nodes are available: 1 insufficient memory")])
        let running = [container("ctr_1", slot: 1, node: 1)]
        let second = plan([node(1, memory: 4 * gib), node(2, memory: 4 * gib)], [s], running)
        #expect(second.placements.map(\.slot) == [2])
        #expect(second.placements.map(\.nodeID) == ["nod_2"])
        #expect(second.unplaced.isEmpty)
    }

    @Test func samePlanForTheSameInput() {
        let nodes = (1...20).map { node($0, labels: ["az": "\($0 % 3)"], memory: Int64($0 % 4 + 1) * gib) }.shuffled()
        let services = [
            service(spec("a", replicas: 30, memory: gib / 2, placement: Placement(spreadOver: ["az"]))),
            service(spec("b", replicas: 10, ports: [80])),
            service(spec("c", replicas: 25, cpus: 0.5, placement: Placement(strategy: .binpack))),
        ]
        let one = plan(nodes, services)
        let two = plan(nodes.shuffled(), services.shuffled())
        #expect(one == two)
        #expect(one.placements.count == 65)
    }
}

@Suite struct SequencePlanningTests {
    @Test func laterApplicationsOfABatchSeeWhatEarlierOnesPlacedAndNeverOvercommit() {
        // Two nodes with room for three 1-CPU containers each; three applications of two replicas.
        let nodes = [node(1, cpus: 3), node(2, cpus: 3)]
        let snapshots = (1...3).map { _ in ClusterSnapshot(nodes: nodes, services: [service(spec(replicas: 2, cpus: 1))], containers: []) }
        let plans = Planner.planInSequence(snapshots, now: t0)
        #expect(plans.count == 3)
        // Planned alone, every one would take nod_1 then nod_2; in sequence they still fill both
        // nodes evenly and the third application finds exactly the room that is left.
        #expect(plans.allSatisfy { $0.unplaced.isEmpty })
        let all = plans.flatMap(\.placements)
        #expect(all.filter { $0.nodeID == "nod_1" }.count == 3)
        #expect(all.filter { $0.nodeID == "nod_2" }.count == 3)
    }

    @Test func whatAnEarlierPlanTookLeavesALaterOneUnplacedWithTheReason() {
        let nodes = [node(1, cpus: 2)]
        let snapshots = (1...2).map { _ in ClusterSnapshot(nodes: nodes, services: [service(spec(replicas: 2, cpus: 1))], containers: []) }
        let plans = Planner.planInSequence(snapshots, now: t0)
        #expect(plans[0].placements.count == 2)
        #expect(plans[1].placements.isEmpty)
        #expect(plans[1].unplaced.first?.count == 2)
        #expect(plans[1].unplaced.first?.explanation == Planner.plan(
            ClusterSnapshot(nodes: [node(1, cpus: 2, other: NodeUsage(cpus: 2, containerCount: 2))],
                            services: [service(spec(replicas: 2, cpus: 1))], containers: []), now: t0).unplaced.first?.explanation)
    }

    @Test func spreadAcrossABatchCountsTheBatchsOwnPlacementsAndHostPorts() {
        let nodes = [node(1), node(2)]
        let web = ClusterSnapshot(nodes: nodes, services: [service(spec(replicas: 1, ports: [8080]))], containers: [])
        let plans = Planner.planInSequence([web, web], now: t0)
        // The second application's container avoids the node whose port 8080 the first one took.
        #expect(plans.map { $0.placements.first?.nodeID } == ["nod_1", "nod_2"])
        let third = Planner.planInSequence([web, web, web], now: t0)[2]
        #expect(third.placements.isEmpty && third.unplaced.first?.count == 1)
    }

    @Test func aSingleSnapshotPlansExactlyAsThePlannerAlone() {
        let snapshot = ClusterSnapshot(nodes: [node(1), node(2), node(3)], services: [service(spec(replicas: 5))], containers: [])
        #expect(Planner.planInSequence([snapshot], now: t0) == [Planner.plan(snapshot, now: t0)])
    }
}

/// Numbers past every boundary's range (a bound missed somewhere) cost a wrong number, never the
/// process: the planner's arithmetic saturates instead of trapping.
@Suite struct PlannerArithmeticTests {
    @Test func hugeReservationsAndCapacitiesPlanWithoutTrapping() {
        let huge = node(1, cpus: Double(Int.max), memory: Int64.max, other: NodeUsage(cpus: -Double(Int.max), memoryBytes: Int64.min + 1))
        let small = node(2)
        let greedy = spec("greedy", replicas: 2, cpus: 1e17, memory: Int64.max)
        let result = plan([huge, small], [service(greedy)])
        // Whatever it decides, it decides: the small node never holds a 1e17-CPU reservation.
        #expect(result.placements.allSatisfy { $0.nodeID == "nod_1" })
        let modest = plan([huge, small], [service(spec("web", replicas: 3, cpus: 0.5))])
        #expect(modest.placements.count == 3)
    }

    @Test func aHugeAutoscalingStepStopsAtTheBounds() {
        let policy = AutoScalingPolicy(maxCPU: 70, minCPU: 10, step: Int.max, minInstances: 1, maxInstances: Int.max)
        let up = Autoscaler.decide(policy: policy, currentReplicas: 3, cpuSamples: [90], lastScaledAt: nil, cooldown: 0, now: t0)
        #expect(up.replicas == Int.max)
        let down = Autoscaler.decide(policy: policy, currentReplicas: Int.max - 1, cpuSamples: [1], lastScaledAt: nil, cooldown: 0, now: t0)
        #expect(down.replicas == 1)
    }

    @Test func saturatingConversionsHoldAtTheBounds() {
        #expect(Int(saturating: 1e300) == Int.max && Int(saturating: -1e300) == Int.min && Int(saturating: .nan) == 0)
        #expect(Int32(saturating: 3e9) == Int32.max && Int64(saturating: 2.9) == 2)
        #expect(Int(saturating: Double(Int.max)) == Int.max)
        #expect(formatSeconds(1e300).hasSuffix("s") || formatSeconds(1e300).hasSuffix("m"))
    }
}

@Suite struct ContainerQuotaGateTests {
    func placement(_ service: String, _ slot: Int, _ cause: PlacementCause = .missing, replacing: String? = nil) -> ContainerPlacement {
        ContainerPlacement(serviceID: service, slot: slot, generation: 1, nodeID: "nod_1", cause: cause, replacing: replacing,
                           restartCount: 0, notBefore: nil, reason: "")
    }

    @Test func newSlotsBeyondTheRoomStayUnplacedWithTheQuotaInTheExplanation() {
        var a = Plan()
        a.placements = [placement("svc_a", 0), placement("svc_a", 1)]
        var b = Plan()
        b.placements = [placement("svc_b", 0), placement("svc_b", 1, .update, replacing: "ctr_old"), placement("svc_b", 2)]
        b.unplaced = [Unplaced(serviceID: "svc_b", slots: [5], explanation: "0/3 nodes are available: 3 insufficient memory")]
        let gated = ContainerQuotaGate.admit([a, b], used: 47, limit: 50)
        #expect(gated[0].placements.map(\.slot) == [0, 1])
        #expect(gated[1].placements.map(\.slot) == [0, 1], "one new slot left, and the replacement always passes")
        #expect(gated[1].unplaced == [Unplaced(serviceID: "svc_b", slots: [2, 5],
                                               explanation: "0/3 nodes are available: 3 insufficient memory; quota: containers 50/50")])
        #expect(gated[0].unplaced.isEmpty)
    }

    @Test func overTheQuotaAlreadyNothingNewIsPlacedButHealingGoesOn() {
        var plan = Plan()
        plan.placements = [placement("svc_a", 0, .lost, replacing: "ctr_1"), placement("svc_a", 1, .globalNode), placement("svc_a", 2, .restart)]
        let gated = ContainerQuotaGate.admit([plan], used: 60, limit: 50)
        #expect(gated[0].placements.map(\.slot) == [0, 2])
        #expect(gated[0].unplaced == [Unplaced(serviceID: "svc_a", slots: [1], explanation: "quota: containers 60/50")])
        #expect(ContainerQuotaGate.admit([plan], used: 0, limit: 50) == [plan], "room for all: the plan is unchanged")
    }
}
