import CaaSModel
import Foundation

/// The planner: a pure function from one snapshot and the current time to a `Plan`.
///
/// It works in three stages, like a control plane's pipeline: reconcile decides *what* each service needs
/// (keep, stop, remove, restart, replace, place so many), then the ledger accounts for what stays, then
/// placement decides *where* new containers go. Same input, same plan: every order is by id, slot or node id.
public enum Planner {
    public static func plan(_ snapshot: ClusterSnapshot, now: Date, options: PlannerOptions = PlannerOptions()) -> Plan {
        var run = PlanningRun(snapshot: snapshot, now: now, options: options)
        return run.run()
    }

    /// Plans several applications of one cluster in turn, to be applied together: every later
    /// snapshot's nodes also count what the earlier plans place there, so the batch as a whole
    /// never puts more on a node than fits, and spread sees the batch's own placements. What
    /// earlier plans release is not counted back (conservative: nothing is promised twice).
    public static func planInSequence(_ snapshots: [ClusterSnapshot], now: Date, options: PlannerOptions = PlannerOptions()) -> [Plan] {
        var placed: [String: NodeUsage] = [:]
        var plans: [Plan] = []
        plans.reserveCapacity(snapshots.count)
        for var snapshot in snapshots {
            for i in snapshot.nodes.indices {
                guard let extra = placed[snapshot.nodes[i].id] else { continue }
                snapshot.nodes[i].otherUsage.add(extra)
            }
            let plan = plan(snapshot, now: now, options: options)
            for placement in plan.placements {
                guard let spec = snapshot.spec(of: placement.serviceID, generation: placement.generation) else { continue }
                let demand = Demand(spec)
                placed[placement.nodeID, default: NodeUsage()].add(NodeUsage(
                    cpus: Double(demand.milliCPU) / 1000, memoryBytes: demand.memoryBytes,
                    hostPorts: Set(demand.hostPorts), containerCount: 1))
            }
            plans.append(plan)
        }
        return plans
    }
}

extension ClusterSnapshot {
    /// The spec a service's containers of `generation` run: its current one, or the previous one
    /// during a rollout.
    public func spec(of serviceID: String, generation: Int) -> ServiceSpec? {
        guard let service = services.first(where: { $0.id == serviceID }) else { return nil }
        if generation != service.generation, let previous = service.previous, previous.generation == generation { return previous.spec }
        return service.spec
    }
}

extension NodeUsage {
    /// Adds `other`'s reservations, ports and containers to these.
    public mutating func add(_ other: NodeUsage) {
        cpus += other.cpus
        memoryBytes += other.memoryBytes
        hostPorts.formUnion(other.hostPorts)
        containerCount += other.containerCount
    }
}

/// A container to create, before its node is chosen.
struct PlacementRequest {
    var slot: Int
    var generation: Int
    var cause: PlacementCause
    var replacing: ContainerSnapshot?
    var replacementCause: ReplacementCause?
    var order: UpdateConfig.Order = .stopFirst
    var restartCount: Int = 0
    var notBefore: Date?
    /// Must run on this node (global mode).
    var fixedNode: Int?
    /// Restart in place: try this node first, then anywhere.
    var preferredNode: Int?
    var restart: RestartDecision?
    var why: String
}

struct PlanningRun {
    let snapshot: ClusterSnapshot
    let now: Date
    let options: PlannerOptions
    var ledger: NodeLedger
    let feasibility: FeasibilityCache
    var plan = Plan()
    /// Containers that stop holding resources in this plan (removed, stopped, lost, restarted).
    var releasing: Set<String> = []
    var requests: [String: [PlacementRequest]] = [:]

    init(snapshot: ClusterSnapshot, now: Date, options: PlannerOptions) {
        self.snapshot = snapshot
        self.now = now
        self.options = options
        ledger = NodeLedger(nodes: snapshot.nodes)
        feasibility = FeasibilityCache(nodes: ledger.nodes)
    }

    mutating func run() -> Plan {
        let services = snapshot.services.sorted { $0.id < $1.id }
        var byService: [String: [ContainerSnapshot]] = [:]
        for container in snapshot.containers { byService[container.serviceID, default: []].append(container) }
        for id in byService.keys.sorted() where !services.contains(where: { $0.id == id }) {
            for container in byService[id]!.sorted(by: { $0.id < $1.id }) where container.desired != .removed {
                remove(container, serviceID: id, cause: .serviceRemoved, reason: "\(container.id) removed: its service no longer exists")
            }
        }

        // What: decisions per service.
        for service in services {
            var reconciler = ServiceReconciler(service: service, containers: byService[service.id] ?? [], run: self)
            reconciler.reconcile()
            absorb(reconciler)
        }

        // Account for everything that keeps holding resources.
        var serviceByID: [String: ServiceSnapshot] = [:]
        for service in services { serviceByID[service.id] = service }
        var serviceCounts: [String: [Int]] = [:]
        for container in snapshot.containers where holdsResources(container) {
            guard let nodeID = container.nodeID, let node = ledger.indexByID[nodeID],
                  let service = serviceByID[container.serviceID] else { continue }
            ledger.add(Demand(service.spec(forGeneration: container.generation)), on: node)
            serviceCounts[service.id, default: Array(repeating: 0, count: ledger.count)][node] += 1
        }

        // Where: placement per service, in id order.
        for service in services {
            guard let pending = requests[service.id], !pending.isEmpty else { continue }
            var counts = serviceCounts[service.id] ?? Array(repeating: 0, count: ledger.count)
            place(pending, for: service, serviceCounts: &counts)
            serviceCounts[service.id] = counts
        }
        plan.nextReviewAt = plan.nextReviewAt.flatMap { $0 > now ? $0 : nil }
        return plan
    }

    private func holdsResources(_ c: ContainerSnapshot) -> Bool {
        guard c.desired == .running, !c.observed.isTerminal, c.replacedBy == nil, !releasing.contains(c.id) else { return false }
        guard let nodeID = c.nodeID, let node = ledger.indexByID[nodeID] else { return false }
        return ledger.nodes[node].status != .down
    }

    private mutating func absorb(_ r: ServiceReconciler) {
        plan.stops += r.plan.stops
        plan.removals += r.plan.removals
        plan.lost += r.plan.lost
        plan.rollouts += r.plan.rollouts
        plan.waits += r.plan.waits
        releasing.formUnion(r.releasing)
        requests[r.service.id] = r.requests
        review(at: r.plan.nextReviewAt)
    }

    mutating func review(at date: Date?) {
        guard let date, date > now else { return }
        plan.nextReviewAt = min(plan.nextReviewAt ?? date, date)
    }

    private mutating func remove(_ c: ContainerSnapshot, serviceID: String, cause: RemovalCause, reason: String) {
        plan.removals.append(ContainerRemoval(containerID: c.id, serviceID: serviceID, cause: cause, reason: reason))
        releasing.insert(c.id)
    }

    // MARK: Placement

    private mutating func place(_ pending: [PlacementRequest], for service: ServiceSnapshot, serviceCounts: inout [Int]) {
        var unplacedSlots: [Int] = []
        var explanation: String?
        // Requests bound to a node first (global mode, restarts in place), then the free ones by generation.
        var free: [PlacementRequest] = []
        for request in pending {
            let spec = service.spec(forGeneration: request.generation)
            let placer = Placer(spec: spec, demand: Demand(spec), entry: feasibility.entry(for: spec.placement.constraints))
            guard let node = request.fixedNode ?? request.preferredNode else {
                free.append(request)
                continue
            }
            if let rejection = placer.rejection(on: node, ledger: ledger, serviceCounts: serviceCounts) {
                if request.fixedNode != nil {
                    unplacedSlots.append(request.slot)
                    globalRejections[service.id, default: RejectionCounts()].add(rejection)
                } else {
                    free.append(request)
                }
                continue
            }
            ledger.add(placer.demand, on: node)
            serviceCounts[node] += 1
            emit(request, on: node, service: service, how: request.fixedNode != nil ? nil : "same node")
        }
        let generations = Array(Set(free.map(\.generation))).sorted(by: >)
        for generation in generations {
            let batch = free.filter { $0.generation == generation }
            let spec = service.spec(forGeneration: generation)
            let placer = Placer(spec: spec, demand: Demand(spec), entry: feasibility.entry(for: spec.placement.constraints))
            let outcome = placer.place(count: batch.count, ledger: &ledger, serviceCounts: &serviceCounts)
            for (request, node) in zip(batch, outcome.nodes) {
                emit(request, on: node, service: service, how: spec.placement.strategy.rawValue)
            }
            if outcome.nodes.count < batch.count {
                unplacedSlots += batch[outcome.nodes.count...].map(\.slot)
                explanation = outcome.explanation
            }
        }
        if let counts = globalRejections[service.id] {
            let text = "\(counts.total) eligible node\(counts.total == 1 ? "" : "s") cannot run \(service.spec.name): \(counts.summary)"
            explanation = explanation.map { $0 + "; " + text } ?? text
        }
        if !unplacedSlots.isEmpty {
            plan.unplaced.append(Unplaced(serviceID: service.id, slots: unplacedSlots.sorted(), explanation: explanation ?? ""))
        }
    }

    private var globalRejections: [String: RejectionCounts] = [:]

    private mutating func emit(_ request: PlacementRequest, on node: Int, service: ServiceSnapshot, how: String?) {
        let nodeID = ledger.nodes[node].id
        let nodeName = ledger.nodes[node].name
        if case .restart(let count, let backoff, let notBefore, let reason)? = request.restart, let old = request.replacing,
           old.nodeID == nodeID {
            plan.restarts.append(ContainerRestart(
                containerID: old.id, serviceID: service.id, slot: request.slot, generation: request.generation, nodeID: nodeID,
                restartCount: count, lastExitCode: old.lastExitCode, notBefore: notBefore, backoff: backoff, reason: reason
            ))
            return
        }
        if case .restart? = request.restart, let old = request.replacing {
            plan.removals.append(ContainerRemoval(
                containerID: old.id, serviceID: service.id, cause: .replaced,
                reason: "\(old.id) removed: restarted on \(nodeName) (its node \(old.nodeID ?? "none") cannot take it)"
            ))
        }
        let where_ = how.map { " on \(nodeName) (\($0))" } ?? " on \(nodeName)"
        plan.placements.append(ContainerPlacement(
            serviceID: service.id, slot: request.slot, generation: request.generation, nodeID: nodeID, cause: request.cause,
            replacing: request.replacing?.id, restartCount: request.restartCount, notBefore: request.notBefore,
            reason: request.why + where_
        ))
        if request.replacementCause == .lost, let old = request.replacing, !releasing.contains(old.id) {
            // A lost container stays until its replacement is placed: now.
            let oldNode = old.nodeID.flatMap { ledger.indexByID[$0] }.map { ledger.nodes[$0].name } ?? old.nodeID ?? "no node"
            remove(old, serviceID: service.id, cause: .lost, reason: "\(service.spec.name).\(old.slot) (\(old.id)) lost with node \(oldNode)")
        }
        if let old = request.replacing, let cause = request.replacementCause {
            plan.replacements.append(Replacement(
                old: old.id, serviceID: service.id, slot: request.slot, newGeneration: request.generation, newNodeID: nodeID,
                cause: cause, order: request.order, reason: request.why + where_
            ))
        }
    }
}

extension ServiceSnapshot {
    /// The spec a container of `generation` was made from (the current one when the generation is unknown).
    func spec(forGeneration generation: Int) -> ServiceSpec {
        if generation != self.generation, let previous, previous.generation == generation { return previous.spec }
        return spec
    }
}
