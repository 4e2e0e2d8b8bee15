import CaaSModel
import Foundation

/// Decides *what* one service needs: which containers stay, stop, restart, are removed or replaced, and how many
/// new ones each slot needs. Where the new ones go is the placer's business.
struct ServiceReconciler {
    /// The spec, generation and update config the service is converging to (the previous ones while rolling back).
    struct Target {
        var spec: ServiceSpec
        var generation: Int
        var config: UpdateConfig
        var isRollback: Bool
    }

    /// The containers of one replica slot (replicated mode) or one node (global mode).
    struct Slot {
        var slot: Int
        var node: Int?
        /// Containers meant to run, best first; `members[0]` is the one that counts. (A lost one
        /// counts again once its node is back.)
        var members: [ContainerSnapshot] = []
        var stopped: ContainerSnapshot?
        var exited: [ContainerSnapshot] = []
        /// Lost with its node, while the node is down: kept until a replacement is placed.
        var lost: ContainerSnapshot?
        var restartPending = false
        var primary: ContainerSnapshot? { members.first ?? stopped }
        var occupied: Bool { !members.isEmpty || stopped != nil || restartPending }
    }

    let service: ServiceSnapshot
    let containers: [ContainerSnapshot]
    let ledger: NodeLedger
    let feasibility: FeasibilityCache
    let now: Date
    let options: PlannerOptions

    var plan = Plan()
    var releasing: Set<String> = []
    var requests: [PlacementRequest] = []
    var rollout: RolloutState?
    var target: Target
    var slots: [Slot] = []

    init(service: ServiceSnapshot, containers: [ContainerSnapshot], run: PlanningRun) {
        self.service = service
        self.containers = containers.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        ledger = run.ledger
        feasibility = run.feasibility
        now = run.now
        options = run.options
        target = Target(spec: service.spec, generation: service.generation, config: service.spec.updateConfig, isRollback: false)
    }

    var name: String { service.spec.name }
    var hasHealthCheck: Bool { target.spec.healthcheck != nil || target.spec.probe != nil }

    mutating func reconcile() {
        advanceRolloutPhase()
        chooseTarget()
        classify()
        if service.spec.mode == .global {
            reconcileGlobal()
        } else {
            reconcileReplicated()
            moveOffDrainingNodes()
            removeUnneededLost()
        }
        rollOut()
        if let rollout, rollout != service.rollout { plan.rollouts.append(rollout) }
    }

    // MARK: Naming

    func label(_ c: ContainerSnapshot) -> String { "\(name).\(c.slot)" }
    func label(slot: Int) -> String { "\(name).\(slot)" }

    func nodeName(_ c: ContainerSnapshot) -> String {
        guard let id = c.nodeID else { return "no node" }
        return ledger.indexByID[id].map { ledger.nodes[$0].name } ?? id
    }

    func nodeIndex(_ c: ContainerSnapshot) -> Int? { c.nodeID.flatMap { ledger.indexByID[$0] } }

    func nodeStatus(_ c: ContainerSnapshot) -> NodeStatus? {
        guard let id = c.nodeID else { return nil }
        // A node missing from the snapshot is gone: as good as down.
        return ledger.indexByID[id].map { ledger.nodes[$0].status } ?? .down
    }

    // MARK: Readiness

    /// Running and, with a health check, healthy.
    func isReady(_ c: ContainerSnapshot) -> Bool {
        guard c.observed == .running, c.health != .unhealthy else { return false }
        return !hasHealthCheck || c.health == .healthy
    }

    /// When a ready container has been ready for the monitor period (`nil`: not ready).
    func settlesAt(_ c: ContainerSnapshot) -> Date? {
        guard isReady(c) else { return nil }
        let since = (hasHealthCheck ? c.healthySince : c.startedAt) ?? c.startedAt ?? c.createdAt
        return since.addingTimeInterval(target.config.monitorSeconds)
    }

    func isSettled(_ c: ContainerSnapshot) -> Bool { settlesAt(c).map { $0 <= now } ?? false }

    // MARK: Decisions

    mutating func remove(_ c: ContainerSnapshot, _ cause: RemovalCause, _ reason: String) {
        guard !releasing.contains(c.id) else { return }
        plan.removals.append(ContainerRemoval(containerID: c.id, serviceID: service.id, cause: cause, reason: reason))
        releasing.insert(c.id)
    }

    mutating func wait(until date: Date?, _ reason: String) {
        plan.waits.append(Wait(serviceID: service.id, until: date, reason: reason))
        review(at: date)
    }

    mutating func review(at date: Date?) {
        guard let date, date > now else { return }
        plan.nextReviewAt = min(plan.nextReviewAt ?? date, date)
    }

    // MARK: Classification

    /// Sorts every container into its slot: counted member, stopped occupant, exited (restart policy), lost.
    mutating func classify() {
        let global = service.spec.mode == .global
        var bySlot: [String: Slot] = [:]
        var order: [String] = []
        for c in containers where c.desired != .removed {
            let key = global ? (c.nodeID ?? "") : String(c.slot)
            if bySlot[key] == nil {
                bySlot[key] = Slot(slot: c.slot, node: global ? nodeIndex(c) : nil)
                order.append(key)
            }
            if let replacement = c.replacedBy {
                remove(c, .replaced, "stale copy \(label(c)) (\(c.id)) on \(nodeName(c)) removed: already replaced by \(replacement)")
                continue
            }
            let status = nodeStatus(c)
            let onLostNode = c.observed == .lost || (status == .down && !c.observed.isTerminal)
            if onLostNode && c.desired == .stopped && policy(of: c) != .always {
                // Stopped on purpose: it stays stopped wherever its node is, and keeps its slot.
                bySlot[key]!.stopped = c
                continue
            }
            if c.observed == .lost, c.desired == .running, nodeIndex(c) != nil, status != .down {
                // Its node is back: the agent reports it running again (or makes it run, as it is
                // in the desired state), so it keeps its slot instead of being replaced.
                bySlot[key]!.members.append(c)
                continue
            }
            if onLostNode {
                if c.observed != .lost {
                    plan.lost.append(LostContainer(
                        containerID: c.id, serviceID: service.id, nodeID: c.nodeID ?? "",
                        reason: "\(label(c)) (\(c.id)) lost: node \(nodeName(c)) is down"
                    ))
                }
                if let earlier = bySlot[key]!.lost {
                    remove(earlier, .lost, "\(label(earlier)) (\(earlier.id)) lost with node \(nodeName(earlier)): superseded by \(c.id)")
                }
                bySlot[key]!.lost = c
                if nodeIndex(c) == nil {
                    // Its node is gone: nothing to come back to.
                    remove(c, .lost, "\(label(c)) (\(c.id)) lost with node \(nodeName(c))")
                }
                // Otherwise it stays while its node is down (it may be running there, cut off): it is
                // removed when its replacement is placed, or when its slot is no longer wanted
                // (`removeUnneededLost`). With nowhere to place a replacement it waits for its node.
                continue
            }
            if c.desired == .stopped {
                bySlot[key]!.stopped = c
                continue
            }
            let unhealthyRestart = c.health == .unhealthy && c.observed == .running && policy(of: c) != .no
            if c.observed.isTerminal || unhealthyRestart {
                bySlot[key]!.exited.append(c)
                continue
            }
            bySlot[key]!.members.append(c)
        }
        slots = order.map { bySlot[$0]! }
        if global {
            slots.sort { ($0.node ?? -1, $0.slot) < ($1.node ?? -1, $1.slot) }
        } else {
            slots.sort { $0.slot < $1.slot }
        }
        for i in slots.indices {
            var slot = slots[i]
            deduplicate(&slot)
            applyRestartPolicy(&slot)
            slots[i] = slot
        }
    }

    func policy(of c: ContainerSnapshot) -> RestartPolicy { service.spec(forGeneration: c.generation).restart }

    /// Never two copies of a slot counted: the best one counts; the others are predecessors kept until it is ready
    /// (start-first updates, drain moves) or duplicates removed now.
    mutating func deduplicate(_ slot: inout Slot) {
        guard slot.members.count > 1 else { return }
        func rank(_ c: ContainerSnapshot) -> (Int, Int, Int, Double, String) {
            (c.generation == target.generation ? 0 : 1, nodeStatus(c) == .ready ? 0 : 1, isReady(c) ? 0 : 1,
             -c.createdAt.timeIntervalSinceReferenceDate, c.id)
        }
        slot.members.sort { rank($0) < rank($1) }
        let primary = slot.members[0]
        var kept = [primary]
        for other in slot.members.dropFirst() {
            let isPredecessor = other.generation != primary.generation || nodeStatus(other) != .ready
            if !isPredecessor {
                remove(other, .stale, "duplicate \(label(other)) (\(other.id)) on \(nodeName(other)) removed: the slot runs \(primary.id)")
            } else if isReady(primary) {
                if other.generation != primary.generation {
                    remove(other, .replaced, "\(label(other)) (\(other.id), generation \(other.generation)) removed: replaced by \(primary.id) (generation \(primary.generation)), now ready")
                } else {
                    remove(other, .replaced, "\(label(other)) (\(other.id)) removed from \(nodeStatus(other)?.rawValue ?? "unknown") node \(nodeName(other)): moved to \(nodeName(primary)) as \(primary.id), now ready")
                }
            } else {
                kept.append(other)
                wait(until: nil, "\(label(other)) (\(other.id)) keeps running until \(primary.id) on \(nodeName(primary)) is ready")
            }
        }
        slot.members = kept
    }

    /// Exited containers of a slot that has no running copy follow the restart policy.
    mutating func applyRestartPolicy(_ slot: inout Slot) {
        guard !slot.exited.isEmpty else { return }
        if let primary = slot.members.first {
            for c in slot.exited {
                remove(c, .replaced, "\(label(c)) (\(c.id)) removed: the slot continues in \(primary.id)")
            }
            return
        }
        let latest = slot.exited.max { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }!
        for c in slot.exited where c.id != latest.id {
            remove(c, .replaced, "\(label(c)) (\(c.id)) removed: superseded by \(latest.id)")
        }
        let decision = RestartBackoff.decide(latest, policy: policy(of: latest), name: name, now: now, options: options)
        switch decision {
        case .stop(let reason):
            plan.stops.append(ContainerStop(containerID: latest.id, serviceID: service.id, reason: reason))
            releasing.insert(latest.id)
            slot.stopped = latest
        case .restart where latest.generation != target.generation:
            // An outdated incarnation is not started again: its slot moves to the target generation now.
            slot.restartPending = true
            remove(latest, .replaced, "\(label(latest)) (\(latest.id), generation \(latest.generation)) removed: its slot moves to generation \(target.generation)")
            let global = service.spec.mode == .global
            requests.append(PlacementRequest(
                slot: latest.slot, generation: target.generation, cause: target.isRollback ? .rollback : .update,
                replacing: latest, replacementCause: target.isRollback ? .rollback : .update,
                fixedNode: global ? nodeIndex(latest) : nil,
                why: "\(label(latest)) \(target.isRollback ? "rolled back" : "updated") from generation \(latest.generation) to \(target.generation) after it stopped"
            ))
        case .restart(let count, _, let notBefore, let reason):
            releasing.insert(latest.id)
            slot.restartPending = true
            let node = nodeIndex(latest).flatMap { ledger.nodes[$0].status == .ready ? $0 : nil }
            let global = service.spec.mode == .global
            if global && node == nil {
                // Global: a restart cannot move; the node's status decides what happens next.
                slot.restartPending = false
                remove(latest, .ineligibleNode, "\(label(latest)) (\(latest.id)) removed: node \(nodeName(latest)) is not ready")
                return
            }
            requests.append(PlacementRequest(
                slot: latest.slot, generation: latest.generation, cause: .restart, replacing: latest,
                restartCount: count, notBefore: notBefore, fixedNode: global ? node : nil, preferredNode: global ? nil : node,
                restart: decision, why: reason
            ))
            review(at: notBefore)
        }
    }

    // MARK: Replicated: count

    mutating func reconcileReplicated() {
        let desired = max(0, target.spec.replicas)
        let occupied = slots.indices.filter { slots[$0].occupied }
        if occupied.count > desired {
            scaleDown(from: occupied, to: desired)
        } else if occupied.count < desired {
            let used = Set(occupied.map { slots[$0].slot })
            var missing = desired - occupied.count
            var number = 1
            while missing > 0 {
                if !used.contains(number) {
                    let lost = slots.first { $0.slot == number && !$0.occupied }?.lost
                    if let lost {
                        requests.append(PlacementRequest(
                            slot: number, generation: target.generation, cause: .lost, replacing: lost, replacementCause: .lost,
                            why: "\(label(slot: number)) replaces \(lost.id) lost with node \(nodeName(lost))"
                        ))
                    } else {
                        requests.append(PlacementRequest(
                            slot: number, generation: target.generation, cause: .missing,
                            why: "\(label(slot: number)) created (\(desired) replicas wanted, \(occupied.count) exist)"
                        ))
                    }
                    missing -= 1
                }
                number += 1
            }
        }
    }

    /// A lost container whose slot asks for no replacement (scaled down, or held by another copy)
    /// is not waited for: it goes now. (One that is being replaced goes when its replacement is
    /// placed; global containers wait for their own node.)
    mutating func removeUnneededLost() {
        let replacing = Set(requests.compactMap { $0.replacementCause == .lost ? $0.replacing?.id : nil })
        for slot in slots {
            guard let lost = slot.lost, !replacing.contains(lost.id) else { continue }
            remove(lost, .lost, "\(label(lost)) (\(lost.id)) lost with node \(nodeName(lost))")
        }
    }

    /// Removes the slots that matter least: not running or unhealthy first, then from the node with the most
    /// containers of the service (the rest stay balanced), then the highest slot.
    mutating func scaleDown(from occupied: [Int], to desired: Int) {
        var perNode: [String: Int] = [:]
        for i in occupied { if let node = slots[i].primary?.nodeID { perNode[node, default: 0] += 1 } }
        var remaining = occupied
        for _ in 0..<(occupied.count - desired) {
            func key(_ i: Int) -> (Int, Int, Int) {
                let slot = slots[i]
                let healthy = slot.members.first.map { $0.observed == .running && $0.health != .unhealthy } ?? false
                return (healthy ? 0 : 1, slot.primary?.nodeID.flatMap { perNode[$0] } ?? 0, slot.slot)
            }
            let pick = remaining.max { key($0) < key($1) }!
            remaining.removeAll { $0 == pick }
            if let node = slots[pick].primary?.nodeID { perNode[node]! -= 1 }
            let why = "scale down to \(desired) replica\(desired == 1 ? "" : "s")"
            for c in slots[pick].members + (slots[pick].stopped.map { [$0] } ?? []) {
                remove(c, .scaleDown, "\(label(c)) (\(c.id)) on \(nodeName(c)) removed: \(why)")
            }
            if slots[pick].restartPending {
                requests.removeAll { $0.slot == slots[pick].slot }
                for c in slots[pick].exited {
                    releasing.remove(c.id)
                    remove(c, .scaleDown, "\(label(c)) (\(c.id)) removed: \(why)")
                }
            }
            slots[pick].members = []
            slots[pick].stopped = nil
            slots[pick].restartPending = false
        }
    }

    /// Containers on draining nodes move start-first: the new copy is placed now, the old one is removed once the
    /// new one is ready.
    mutating func moveOffDrainingNodes() {
        for slot in slots where slot.members.count == 1 {
            let c = slot.members[0]
            guard nodeStatus(c) == .draining else { continue }
            let known = c.generation == service.generation || c.generation == service.previous?.generation
            requests.append(PlacementRequest(
                slot: c.slot, generation: known ? c.generation : target.generation, cause: .drain, replacing: c,
                replacementCause: .drain, order: .startFirst,
                why: "\(label(c)) moves off draining node \(nodeName(c)) (start-first, \(c.id) runs until the new one is ready)"
            ))
        }
    }

    // MARK: Global

    mutating func reconcileGlobal() {
        let entry = feasibility.entry(for: target.spec.placement.constraints)
        var covered = Set<Int>()
        for i in slots.indices {
            guard let node = slots[i].node, slots[i].occupied else { continue }
            let status = ledger.nodes[node].status
            if status == .paused || (status == .ready && entry.member[node]) {
                covered.insert(node)
                continue
            }
            let why = status == .ready ? "no longer meets the constraints" : "is \(status.rawValue)"
            for c in slots[i].members + (slots[i].stopped.map { [$0] } ?? []) {
                remove(c, .ineligibleNode, "\(label(c)) (\(c.id)) removed: node \(nodeName(c)) \(why)")
            }
            requests.removeAll { $0.fixedNode == node }
            slots[i].members = []
            slots[i].stopped = nil
            slots[i].restartPending = false
        }
        var used = Set(containers.map(\.slot))
        var number = 1
        for node in entry.nodes where !covered.contains(node) {
            while used.contains(number) { number += 1 }
            used.insert(number)
            requests.append(PlacementRequest(
                slot: number, generation: target.generation, cause: .globalNode, fixedNode: node,
                why: "\(label(slot: number)) created for node \(ledger.nodes[node].name) (global)"
            ))
        }
    }
}
