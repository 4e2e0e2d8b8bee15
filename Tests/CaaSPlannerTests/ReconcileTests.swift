import CaaSModel
import Foundation
import Testing
@testable import CaaSPlanner

@Suite struct ReconcileTests {
    @Test func scaleUpFillsTheLowestFreeSlots() {
        let existing = [container("ctr_1", slot: 1, node: 1), container("ctr_3", slot: 3, node: 2)]
        let p = plan([node(1), node(2)], [service(spec(replicas: 4))], existing)
        #expect(p.placements.map(\.slot) == [2, 4])
        #expect(p.placements.map(\.cause) == [.missing, .missing])
        #expect(p.removals.isEmpty)
    }

    @Test func scaleDownRemovesNotRunningFirstThenFromTheBusiestNodeThenHighestSlot() {
        let existing = [
            container("ctr_1", slot: 1, node: 1), container("ctr_2", slot: 2, node: 1), container("ctr_3", slot: 3, node: 1),
            container("ctr_4", slot: 4, node: 2), container("ctr_5", slot: 5, node: 2, observed: .starting),
            container("ctr_6", slot: 6, node: 3, health: .unhealthy),
        ]
        let p = plan([node(1), node(2), node(3)], [service(spec(replicas: 3, restart: .no))], existing)
        // Not running (5, node-2 holds two) and unhealthy (6) go first, then node-1 (3 containers) gives up its highest slot.
        #expect(p.removals.map(\.containerID) == ["ctr_5", "ctr_6", "ctr_3"])
        #expect(p.removals.allSatisfy { $0.cause == .scaleDown })
        #expect(p.removals[2].reason == "web.3 (ctr_3) on node-1 removed: scale down to 3 replicas")
        #expect(p.placements.isEmpty)
    }

    @Test func scaleDownOfBalancedNodesRemovesTheHighestSlots() {
        let existing = (1...4).map { container("ctr_\($0)", slot: $0, node: ($0 - 1) % 2 + 1) }
        let p = plan([node(1), node(2)], [service(spec(replicas: 2))], existing)
        #expect(p.removals.map(\.containerID) == ["ctr_4", "ctr_3"])
    }

    @Test func globalModeRunsOneContainerPerEligibleNodeAndLeavesIneligibleOnes() {
        let s = service(spec("agent", mode: .global, placement: Placement(constraints: [label("role", .equal, "worker")])))
        let nodes = [
            node(1, labels: ["role": "worker"]), node(2, labels: ["role": "worker"]), node(3, labels: ["role": "db"]),
            node(4, .draining, labels: ["role": "worker"]), node(5, labels: ["role": "worker"]),
        ]
        let existing = [
            container("ctr_a", service: "agent", slot: 1, node: 1),
            container("ctr_c", service: "agent", slot: 2, node: 3),
            container("ctr_d", service: "agent", slot: 3, node: 4),
        ]
        let p = plan(nodes, [s], existing)
        #expect(p.placements.map(\.nodeID) == ["nod_2", "nod_5"])
        #expect(p.placements.map(\.slot) == [4, 5])
        #expect(p.placements[0].reason == "agent.4 created for node node-2 (global) on node-2")
        #expect(p.removals.map(\.containerID) == ["ctr_c", "ctr_d"])
        #expect(p.removals.map(\.reason) == [
            "agent.2 (ctr_c) removed: node node-3 no longer meets the constraints",
            "agent.3 (ctr_d) removed: node node-4 is draining",
        ])
    }

    @Test func globalModeExplainsNodesWithoutRoom() {
        let s = service(spec("agent", mode: .global, memory: 2 * gib))
        let p = plan([node(1), node(2, memory: gib)], [s])
        #expect(p.placements.map(\.nodeID) == ["nod_1"])
        #expect(p.unplaced == [Unplaced(serviceID: "svc_agent", slots: [2], explanation: "1 eligible node cannot run agent: 1 insufficient memory")])
    }

    @Test func containersOnADownNodeAreLostAndReplacedWhereTheConstraintsAllow() {
        let s = service(spec(replicas: 2, placement: Placement(constraints: [label("az", .equal, "1")])))
        let nodes = [node(1, .down, labels: ["az": "1"]), node(2, labels: ["az": "1"]), node(3, labels: ["az": "2"])]
        let existing = [container("ctr_1", slot: 1, node: 1), container("ctr_2", slot: 2, node: 2)]
        let p = plan(nodes, [s], existing)
        #expect(p.lost == [LostContainer(containerID: "ctr_1", serviceID: "svc_web", nodeID: "nod_1", reason: "web.1 (ctr_1) lost: node node-1 is down")])
        #expect(p.removals.map(\.containerID) == ["ctr_1"])
        #expect(p.removals.first?.cause == .lost)
        #expect(p.placements.map(\.nodeID) == ["nod_2"])
        #expect(p.placements.first?.cause == .lost)
        #expect(p.placements.first?.replacing == "ctr_1")
        #expect(p.replacements.map(\.old) == ["ctr_1"])
        #expect(p.replacements.first?.reason == "web.1 replaces ctr_1 lost with node node-1 on node-2 (spread)")
    }

    @Test func lostContainerWithNowhereToGoStaysPendingWithItsExplanation() {
        let s = service(spec(replicas: 1, placement: Placement(constraints: [label("az", .equal, "1")])))
        let p = plan([node(1, .down, labels: ["az": "1"]), node(2, labels: ["az": "2"])], [s], [container("ctr_1", slot: 1, node: 1)])
        #expect(p.unplaced == [Unplaced(serviceID: "svc_web", slots: [1], explanation: "0/2 nodes are available: 1 down, 1 constraint not met")])
        // It is lost, but not given up: it may be running on the far side of a partition.
        #expect(p.lost.map(\.containerID) == ["ctr_1"])
        #expect(p.removals.isEmpty)
        // The next plan, with the loss recorded, still keeps it and still asks for a replacement.
        let again = plan([node(1, .down, labels: ["az": "1"]), node(2, labels: ["az": "2"])], [s], [container("ctr_1", slot: 1, node: 1, observed: .lost)])
        #expect(again.lost.isEmpty && again.removals.isEmpty && again.placements.isEmpty)
        #expect(again.unplaced.map(\.slots) == [[1]])
    }

    @Test func aLostContainerKeptWhileItsNodeWasDownCountsAgainWhenTheNodeIsBack() {
        let s = service(spec(replicas: 2))
        let existing = [container("ctr_1", slot: 1, node: 1, observed: .lost), container("ctr_2", slot: 2, node: 1, observed: .lost)]
        let p = plan([node(1)], [s], existing)
        #expect(p.removals.isEmpty, "\(p.removals)")
        #expect(p.placements.isEmpty, "\(p.placements)")
        #expect(p.lost.isEmpty && p.unplaced.isEmpty)
        // Back but paused: still kept (running containers stay on a paused node).
        let paused = plan([node(1, .paused)], [s], existing)
        #expect(paused.removals.isEmpty && paused.placements.isEmpty)
    }

    @Test func aLostContainerGoesWhenItsReplacementIsPlacedOrItsSlotIsNotWanted() {
        let nodes = [node(1, .down), node(2)]
        // Scaled down to 1 while node-1 is down: slot 2's lost container is not waited for.
        let existing = [container("ctr_1", slot: 1, node: 2), container("ctr_2", slot: 2, node: 1, observed: .lost)]
        let down = plan(nodes, [service(spec(replicas: 1))], existing)
        #expect(down.removals.map(\.containerID) == ["ctr_2"])
        #expect(down.removals.first?.reason == "web.2 (ctr_2) lost with node node-1")
        #expect(down.placements.isEmpty)
        // Its node was deleted: removed and replaced at once.
        let gone = plan([node(2)], [service(spec(replicas: 2))], existing)
        #expect(gone.removals.map(\.containerID) == ["ctr_2"])
        #expect(gone.placements.map(\.replacing) == ["ctr_2"])
        #expect(gone.removals.count == 1, "removed once: \(gone.removals)")
    }

    @Test func aGlobalContainerLostWithItsNodeWaitsForThatNode() {
        let s = service(spec("agent", mode: .global))
        let existing = [container("ctr_a", service: "agent", slot: 1, node: 1), container("ctr_b", service: "agent", slot: 2, node: 2)]
        let p = plan([node(1, .down), node(2)], [s], existing)
        #expect(p.lost.map(\.containerID) == ["ctr_a"])
        #expect(p.removals.isEmpty && p.placements.isEmpty)
        let lostRows = [container("ctr_a", service: "agent", slot: 1, node: 1, observed: .lost), existing[1]]
        let back = plan([node(1), node(2)], [s], lostRows)
        #expect(back.removals.isEmpty && back.placements.isEmpty, "the node's own container counts again")
        let deleted = plan([node(2)], [s], lostRows)
        #expect(deleted.removals.map(\.containerID) == ["ctr_a"])
    }

    @Test func staleCopiesOnANodeThatCameBackAreRemovedAndNotCounted() {
        // ctr_1 was replaced by ctr_9 while node-1 was down; node-1 is back and reports both old copies.
        let existing = [
            container("ctr_1", slot: 1, node: 1, replacedBy: "ctr_9"),
            container("ctr_2", slot: 2, node: 1, observed: .lost),
            container("ctr_9", slot: 1, node: 2, createdAt: t0 + 60),
            container("ctr_8", slot: 2, node: 2, createdAt: t0 + 60),
        ]
        let p = plan([node(1), node(2)], [service(spec(replicas: 2))], existing)
        #expect(p.removals.map(\.containerID) == ["ctr_1", "ctr_2"])
        #expect(p.removals[0].reason == "stale copy web.1 (ctr_1) on node-1 removed: already replaced by ctr_9")
        #expect(p.removals[1].reason == "duplicate web.2 (ctr_2) on node-1 removed: the slot runs ctr_8")
        #expect(p.placements.isEmpty)
        #expect(p.lost.isEmpty)
    }

    @Test func duplicateCopiesOfASlotKeepOnlyOne() {
        let existing = [container("ctr_a", slot: 1, node: 1), container("ctr_b", slot: 1, node: 2, createdAt: t0 + 1)]
        let p = plan([node(1), node(2)], [service(spec(replicas: 1))], existing)
        #expect(p.removals.map(\.containerID) == ["ctr_a"])
        #expect(p.removals.first?.cause == .stale)
    }

    @Test func drainingNodeMovesContainersStartFirst() {
        let s = service(spec(replicas: 2))
        let nodes = [node(1, .draining), node(2), node(3)]
        let existing = [container("ctr_1", slot: 1, node: 1), container("ctr_2", slot: 2, node: 2)]
        let first = plan(nodes, [s], existing)
        #expect(first.removals.isEmpty)
        #expect(first.placements.map(\.nodeID) == ["nod_3"])
        #expect(first.replacements.map(\.order) == [.startFirst])
        #expect(first.replacements.first?.cause == .drain)
        #expect(first.placements.first?.reason == "web.1 moves off draining node node-1 (start-first, ctr_1 runs until the new one is ready) on node-3 (spread)")

        // The new copy is starting: the old keeps running.
        let starting = existing + [container("ctr_n", slot: 1, node: 3, observed: .starting, createdAt: t0 + 10, startedAt: nil)]
        let second = plan(nodes, [s], starting)
        #expect(second.removals.isEmpty)
        #expect(second.placements.isEmpty)

        // The new copy runs: the old one goes.
        let running = existing + [container("ctr_n", slot: 1, node: 3, createdAt: t0 + 10)]
        let third = plan(nodes, [s], running)
        #expect(third.placements.isEmpty)
        #expect(third.removals.map(\.containerID) == ["ctr_1"])
        #expect(third.removals.first?.reason == "web.1 (ctr_1) removed from draining node node-1: moved to node-3 as ctr_n, now ready")
    }

    @Test func pausedNodeKeepsItsContainersButTakesNoNewOnes() {
        let p = plan([node(1, .paused), node(2)], [service(spec(replicas: 2))], [container("ctr_1", slot: 1, node: 1)])
        #expect(p.removals.isEmpty)
        #expect(p.placements.map(\.nodeID) == ["nod_2"])
    }

    @Test func containersOfARemovedServiceAreRemoved() {
        let p = plan([node(1)], [], [container("ctr_1", service: "old", slot: 1, node: 1)])
        #expect(p.removals == [ContainerRemoval(containerID: "ctr_1", serviceID: "svc_old", cause: .serviceRemoved, reason: "ctr_1 removed: its service no longer exists")])
    }
}
