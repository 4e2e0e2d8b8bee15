import CaaSModel

/// Chooses nodes for containers of one service ("where"). Feasibility (status, constraints) comes precomputed
/// per constraint set; load (reservations, ports, counts) lives in the ledger; candidates wait in heaps keyed by
/// rank, so each placement costs O(log nodes) instead of a scan.
struct Placer {
    /// A node's rank for one service: smaller is better; `node` (id order) breaks ties deterministically.
    struct Candidate: Comparable {
        var primary: Int
        var secondary: Int
        var node: Int

        static func < (a: Candidate, b: Candidate) -> Bool {
            if a.primary != b.primary { return a.primary < b.primary }
            if a.secondary != b.secondary { return a.secondary < b.secondary }
            return a.node < b.node
        }
    }

    /// A spread group: nodes sharing the values of the `spreadOver` labels down to this level.
    final class Group {
        let value: String?
        var count = 0
        var alive = true
        var children: [Group] = []
        var heap = Heap<Candidate>()
        var candidates: [Candidate] = []
        var isLeaf: Bool { children.isEmpty }

        init(value: String? = nil) {
            self.value = value
        }
    }

    struct Outcome {
        /// Chosen nodes, one per placed container, in placement order.
        var nodes: [Int] = []
        /// Set when fewer than requested were placed.
        var explanation: String?
    }

    let spec: ServiceSpec
    let demand: Demand
    let entry: FeasibilityCache.Entry

    /// Places up to `count` containers, updating `ledger` and `serviceCounts` (this service's containers per node).
    func place(count: Int, ledger: inout NodeLedger, serviceCounts: inout [Int]) -> Outcome {
        var outcome = Outcome()
        guard count > 0 else { return outcome }
        var dynamic = RejectionCounts()
        let root = buildTree(ledger: ledger, serviceCounts: serviceCounts)
        let maxPerNode = spec.placement.maxPerNode
        var path: [Group] = []
        while outcome.nodes.count < count, root.alive {
            path.removeAll(keepingCapacity: true)
            var group = root
            path.append(group)
            while !group.isLeaf {
                var best: Group?
                for child in group.children where child.alive {
                    if best == nil || child.count < best!.count { best = child }
                }
                group = best!
                path.append(group)
            }
            guard let candidate = group.heap.popMin() else {
                markDead(path)
                continue
            }
            let node = candidate.node
            var rejected: RejectionReason?
            if let maxPerNode, serviceCounts[node] >= maxPerNode {
                rejected = .maxPerNode
            } else {
                rejected = ledger.rejection(of: demand, on: node)
            }
            if let rejected {
                dynamic.add(rejected)
                if group.heap.isEmpty { markDead(path) }
                continue
            }
            ledger.add(demand, on: node)
            serviceCounts[node] += 1
            for g in path { g.count += 1 }
            outcome.nodes.append(node)
            group.heap.push(rank(node, ledger: ledger, serviceCounts: serviceCounts))
        }
        if outcome.nodes.count < count {
            var all = entry.rejections
            for reason in RejectionReason.allCases where dynamic[reason] > 0 { all.add(reason, dynamic[reason]) }
            outcome.explanation = all.explanation(available: 0, of: ledger.count)
        }
        return outcome
    }

    /// Why `node` cannot take one more container of the service now (`nil`: it can).
    func rejection(on node: Int, ledger: NodeLedger, serviceCounts: [Int]) -> RejectionReason? {
        if let reason = RejectionReason.forStatus(ledger.nodes[node].status) { return reason }
        if !entry.member[node] { return .constraint }
        if let maxPerNode = spec.placement.maxPerNode, serviceCounts[node] >= maxPerNode { return .maxPerNode }
        return ledger.rejection(of: demand, on: node)
    }

    private func rank(_ node: Int, ledger: NodeLedger, serviceCounts: [Int]) -> Candidate {
        switch spec.placement.strategy {
        case .spread:
            // Fewest of this service, then fewest overall.
            return Candidate(primary: serviceCounts[node], secondary: ledger.containerCount[node], node: node)
        case .binpack:
            // Most allocated first, then most containers.
            return Candidate(primary: -ledger.allocation(of: node), secondary: -ledger.containerCount[node], node: node)
        }
    }

    private func buildTree(ledger: NodeLedger, serviceCounts: [Int]) -> Group {
        let root = Group()
        let labels = spec.placement.spreadOver
        if labels.isEmpty {
            root.heap = Heap(entry.nodes.map { rank($0, ledger: ledger, serviceCounts: serviceCounts) })
            root.alive = !root.heap.isEmpty
            return root
        }
        // Group nodes by label values, level by level; nodes without a label form their own group, after the others.
        var index: [[String?]: Group] = [:]
        for node in entry.nodes {
            let values = labels.map { ledger.nodes[node].labels[$0] }
            var group = root
            group.count += serviceCounts[node]
            for depth in 1...values.count {
                let key = Array(values.prefix(depth))
                if let existing = index[key] {
                    group = existing
                } else {
                    let created = Group(value: values[depth - 1])
                    index[key] = created
                    group.children.append(created)
                    group = created
                }
                group.count += serviceCounts[node]
            }
            group.candidates.append(rank(node, ledger: ledger, serviceCounts: serviceCounts))
        }
        func finish(_ group: Group) {
            if group.isLeaf {
                group.heap = Heap(group.candidates)
                group.candidates = []
                group.alive = !group.heap.isEmpty
                return
            }
            group.children.sort { valueOrder($0.value, $1.value) }
            for child in group.children { finish(child) }
            group.alive = group.children.contains { $0.alive }
        }
        finish(root)
        return root
    }

    private func markDead(_ path: [Group]) {
        path.last?.alive = false
        for group in path.dropLast().reversed() {
            group.alive = group.children.contains { $0.alive }
        }
    }
}

/// Label values in ascending order, a missing label last.
private func valueOrder(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case let (x?, y?): x < y
    case (.some, nil): true
    default: false
    }
}
