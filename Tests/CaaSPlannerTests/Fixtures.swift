import CaaSModel
import Foundation
@testable import CaaSPlanner

let t0 = Date(timeIntervalSince1970: 1_700_000_000)
let gib: Int64 = 1 << 30

func node(
    _ n: Int, _ status: NodeStatus = .ready, labels: [String: String] = [:], cpus: Double = 4, memory: Int64 = 8 * gib,
    other: NodeUsage = NodeUsage()
) -> NodeSnapshot {
    NodeSnapshot(id: "nod_\(n)", name: "node-\(n)", labels: labels, status: status,
                 capacity: NodeCapacity(cpus: cpus, memoryBytes: memory), otherUsage: other)
}

func spec(
    _ name: String = "web", replicas: Int = 1, mode: ServiceMode = .replicated, restart: RestartPolicy = .always,
    cpus: Double? = nil, memory: Int64? = nil, ports: [Int] = [], placement: Placement = Placement(),
    update: UpdateConfig = UpdateConfig(), rollback: UpdateConfig = UpdateConfig(), image: String = "nginx:1",
    healthcheck: Bool = false
) -> ServiceSpec {
    ServiceSpec(
        name: name, image: image, ports: ports.map { PortMapping(target: PortRange(80), published: PortRange($0)) },
        restart: restart, mode: mode, replicas: replicas,
        resources: ResourceRequirements(reservations: Resources(cpus: cpus, memoryBytes: memory)),
        placement: placement, updateConfig: update, rollbackConfig: rollback,
        healthcheck: healthcheck ? HealthCheck(test: ["CMD", "true"]) : nil
    )
}

func service(_ spec: ServiceSpec, generation: Int = 1, previous: ServiceSpec? = nil, rollout: RolloutState? = nil) -> ServiceSnapshot {
    ServiceSnapshot(
        id: "svc_\(spec.name)", spec: spec, generation: generation,
        previous: previous.map { PreviousGeneration(spec: $0, generation: generation - 1) }, rollout: rollout
    )
}

func container(
    _ id: String, service: String = "web", slot: Int, node: Int?, generation: Int = 1,
    desired: DesiredContainerState = .running, observed: ObservedContainerState = .running, health: HealthStatus = .unknown,
    restartCount: Int = 0, exitCode: Int? = nil, exitedAt: Date? = nil, createdAt: Date = t0, startedAt: Date? = t0,
    healthySince: Date? = nil, replacedBy: String? = nil
) -> ContainerSnapshot {
    ContainerSnapshot(
        id: id, serviceID: "svc_\(service)", slot: slot, nodeID: node.map { "nod_\($0)" }, generation: generation,
        desired: desired, observed: observed, health: health, restartCount: restartCount, lastExitCode: exitCode,
        lastExitAt: exitedAt, createdAt: createdAt, startedAt: startedAt, healthySince: healthySince, replacedBy: replacedBy
    )
}

func label(_ key: String, _ op: PlacementConstraint.Operator, _ value: String) -> PlacementConstraint {
    PlacementConstraint(attribute: .nodeLabel(key), op: op, value: .exact(value), source: "node.labels.\(key)\(op.rawValue)\(value)")
}

func plan(_ nodes: [NodeSnapshot], _ services: [ServiceSnapshot], _ containers: [ContainerSnapshot] = [], now: Date = t0) -> Plan {
    Planner.plan(ClusterSnapshot(nodes: nodes, services: services, containers: containers), now: now)
}

extension Plan {
    /// Node ids of placements, in slot order.
    var nodesBySlot: [Int: String] {
        Dictionary(uniqueKeysWithValues: placements.map { ($0.slot, $0.nodeID) })
    }

    func placementCount(on node: String) -> Int { placements.filter { $0.nodeID == node }.count }
}

/// A minimal store and agent: applies a plan to the containers, new ones start running at `now`.
func apply(_ plan: Plan, to containers: [ContainerSnapshot], now: Date) -> [ContainerSnapshot] {
    let gone = Set(plan.removals.map(\.containerID) + plan.restarts.map(\.containerID))
    let stopped = Set(plan.stops.map(\.containerID))
    var next = containers.filter { !gone.contains($0.id) }.map { c -> ContainerSnapshot in
        var c = c
        if stopped.contains(c.id) { c.desired = .stopped }
        return c
    }
    for p in plan.placements {
        let id = "ctr_s\(p.slot)g\(p.generation)_\(Int(now.timeIntervalSince(t0)))"
        next.append(container(id, service: String(p.serviceID.dropFirst(4)), slot: p.slot, node: Int(p.nodeID.dropFirst(4)),
                              generation: p.generation, createdAt: now, startedAt: now))
    }
    return next
}
