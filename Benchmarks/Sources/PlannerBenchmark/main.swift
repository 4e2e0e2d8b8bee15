// Places 100,000 containers (1,000 services × 100 replicas) on 1,000 nodes in three zones, with constraints
// (label equality, inequality, regex), spread over `az`, binpack, reservations and host ports; prints the
// median of 5 runs and containers per second.
import CaaSModel
import CaaSPlanner
import Foundation

let nodeCount = 1_000
let serviceCount = 1_000
let replicas = 100
let gib: Int64 = 1 << 30

let nodes: [NodeSnapshot] = (0..<nodeCount).map { i in
    NodeSnapshot(
        id: String(format: "nod_%05d", i), name: "node-\(i)",
        labels: ["az": "\(i % 3 + 1)", "type": i % 10 == 0 ? "gpu-\(i % 4)" : "general-\(i % 7)", "rack": "r\(i % 40)"],
        status: .ready,
        capacity: NodeCapacity(cpus: 32, memoryBytes: 128 * gib)
    )
}

let services: [ServiceSnapshot] = (0..<serviceCount).map { i in
    var constraints: [PlacementConstraint] = []
    switch i % 5 {
    case 0: constraints.append(PlacementConstraint(attribute: .nodeLabel("az"), op: .notEqual, value: .exact("3"), source: "az!=3"))
    case 1: constraints.append(PlacementConstraint(attribute: .nodeLabel("type"), op: .equal, value: .pattern("general-[0-9]+"), source: "type==/general-[0-9]+/"))
    case 2: constraints.append(PlacementConstraint(attribute: .nodeLabel("type"), op: .notEqual, value: .pattern("gpu.*"), source: "type!=/gpu.*/"))
    default: break
    }
    let spreadOver = i % 4 == 0 ? ["az"] : []
    let strategy: PlacementStrategy = i % 10 == 7 ? .binpack : .spread
    let ports = i % 50 == 3 ? [PortMapping(target: PortRange(80), published: PortRange(20_000 + i))] : []
    let spec = ServiceSpec(
        name: "svc\(i)", image: "app:\(i)", ports: ports, restart: .always, replicas: replicas,
        resources: ResourceRequirements(reservations: Resources(cpus: 0.1, memoryBytes: 256 << 20)),
        placement: Placement(constraints: constraints, spreadOver: spreadOver, strategy: strategy)
    )
    return ServiceSnapshot(id: String(format: "svc_%05d", i), spec: spec, generation: 1)
}

let snapshot = ClusterSnapshot(nodes: nodes, services: services, containers: [])
let now = Date(timeIntervalSince1970: 1_700_000_000)

var durations: [Double] = []
var placed = 0
var unplaced = 0
for run in 1...5 {
    let clock = ContinuousClock()
    var plan = Plan()
    let elapsed = clock.measure { plan = Planner.plan(snapshot, now: now) }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    durations.append(seconds)
    placed = plan.placements.count
    unplaced = plan.unplaced.reduce(0) { $0 + $1.count }
    print("run \(run): \(String(format: "%.3f", seconds)) s, \(placed) placed, \(unplaced) unplaced")
}
let median = durations.sorted()[durations.count / 2]
print("planner: \(serviceCount) services × \(replicas) replicas on \(nodeCount) nodes")
print(String(format: "median of 5: %.3f s, %.0f containers/s (%d placed, %d unplaced)", median, Double(placed) / median, placed, unplaced))

// Steady state: the same cluster with all 100,000 containers running; the plan must be empty.
let first = Planner.plan(snapshot, now: now)
let running = first.placements.enumerated().map { index, p in
    ContainerSnapshot(id: String(format: "ctr_%07d", index), serviceID: p.serviceID, slot: p.slot, nodeID: p.nodeID,
                      generation: p.generation, createdAt: now, startedAt: now)
}
let steady = ClusterSnapshot(nodes: nodes, services: services, containers: running)
var steadyDurations: [Double] = []
var steadyChanges = 0
for _ in 1...5 {
    let clock = ContinuousClock()
    var plan = Plan()
    let elapsed = clock.measure { plan = Planner.plan(steady, now: now.addingTimeInterval(60)) }
    steadyDurations.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    steadyChanges = plan.placements.count + plan.removals.count + plan.restarts.count
}
print(String(format: "steady state (100,000 running, nothing to do): median of 5: %.3f s, %d changes",
             steadyDurations.sorted()[2], steadyChanges))
