import CaaSModel

/// What one container of a spec holds on its node: reservations (CPU in millicores, so sums are exact) and
/// published host ports.
struct Demand: Equatable {
    var milliCPU: Int
    var memoryBytes: Int64
    var hostPorts: [HostPort]

    init(_ spec: ServiceSpec) {
        milliCPU = milliCPUs(spec.resources.reservations.cpus ?? 0)
        memoryBytes = spec.resources.reservations.memoryBytes ?? 0
        var ports: [HostPort] = []
        for mapping in spec.ports {
            guard let published = mapping.published else { continue }
            for port in published.lower...max(published.lower, published.upper) {
                ports.append(HostPort(port, published.protocol))
            }
        }
        hostPorts = ports
    }
}

/// Mutable per-node accounting during one plan: free reservations, ports in use, container counts. Changes are
/// incremental (one container at a time), never recomputed.
struct NodeLedger {
    /// Nodes in id order; every index in the planner refers to this order (the deterministic tie-break).
    let nodes: [NodeSnapshot]
    let indexByID: [String: Int]
    private(set) var freeMilliCPU: [Int]
    private(set) var freeMemory: [Int64]
    private(set) var capacityMilliCPU: [Int]
    private(set) var capacityMemory: [Int64]
    private(set) var ports: [Set<HostPort>]
    private(set) var containerCount: [Int]

    init(nodes unsorted: [NodeSnapshot]) {
        nodes = unsorted.sorted { $0.id < $1.id }
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { index[node.id] = i }
        indexByID = index
        capacityMilliCPU = nodes.map { milliCPUs($0.capacity.cpus) }
        capacityMemory = nodes.map { $0.capacity.memoryBytes }
        freeMilliCPU = nodes.map { milliCPUs($0.capacity.cpus - $0.otherUsage.cpus) }
        freeMemory = nodes.map { $0.capacity.memoryBytes.subtractingSaturated($0.otherUsage.memoryBytes) }
        ports = nodes.map { $0.otherUsage.hostPorts }
        containerCount = nodes.map { $0.otherUsage.containerCount }
    }

    var count: Int { nodes.count }

    mutating func add(_ demand: Demand, on node: Int) {
        freeMilliCPU[node] = freeMilliCPU[node].subtractingSaturated(demand.milliCPU)
        freeMemory[node] = freeMemory[node].subtractingSaturated(demand.memoryBytes)
        for port in demand.hostPorts { ports[node].insert(port) }
        containerCount[node] += 1
    }

    /// The first load-dependent reason `demand` does not fit on `node`, or `nil` when it fits.
    func rejection(of demand: Demand, on node: Int) -> RejectionReason? {
        if demand.milliCPU > 0, demand.milliCPU > freeMilliCPU[node] { return .insufficientCPU }
        if demand.memoryBytes > 0, demand.memoryBytes > freeMemory[node] { return .insufficientMemory }
        if !demand.hostPorts.isEmpty, !ports[node].isEmpty {
            for port in demand.hostPorts where ports[node].contains(port) { return .hostPortInUse }
        }
        return nil
    }

    /// Dominant share of reservations in use, in parts per million (binpack's "most allocated").
    func allocation(of node: Int) -> Int {
        func share(used: Int64, capacity: Int64) -> Int {
            capacity > 0 ? Int(saturating: Double(max(0, min(used, capacity))) / Double(capacity) * 1_000_000) : 0
        }
        let cpu = share(used: Int64(capacityMilliCPU[node].subtractingSaturated(freeMilliCPU[node])), capacity: Int64(capacityMilliCPU[node]))
        let memory = share(used: capacityMemory[node].subtractingSaturated(freeMemory[node]), capacity: capacityMemory[node])
        return max(cpu, memory)
    }
}

/// Millicores of `cpus`, rounded; saturating (bounds are checked where numbers enter, see
/// `SpecBounds`, and a missed one must not trap the planner).
func milliCPUs(_ cpus: Double) -> Int { Int(saturating: (cpus * 1000).rounded()) }

extension FixedWidthInteger {
    /// `self - other`, held at the type's bounds instead of trapping.
    func subtractingSaturated(_ other: Self) -> Self {
        let (result, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return result }
        return other > 0 ? .min : .max
    }
}
