import CaaSModel

/// Evaluates one hard constraint against nodes. A constraint depends only on one node attribute, so results are
/// memoised per distinct attribute value: a regex runs once per label value, not once per node.
final class ConstraintMatcher {
    let constraint: PlacementConstraint
    private let regex: Regex<AnyRegexOutput>?
    private var memo: [String: Bool] = [:]

    init(_ constraint: PlacementConstraint) {
        self.constraint = constraint
        if case .pattern(let pattern) = constraint.value {
            regex = try? Regex(pattern)
        } else {
            regex = nil
        }
    }

    func matches(_ node: NodeSnapshot) -> Bool {
        let value: String?
        switch constraint.attribute {
        case .nodeID: value = node.id
        case .nodeName: value = node.name
        case .nodeLabel(let key): value = node.labels[key]
        }
        // A node without the label never equals anything, and so always differs.
        guard let value else { return constraint.op == .notEqual }
        if let known = memo[value] { return known }
        let equal: Bool
        switch constraint.value {
        case .exact(let expected):
            equal = value == expected
        case .pattern:
            // An invalid pattern matches nothing (the compose validator reports it earlier).
            equal = regex.map { (try? $0.wholeMatch(in: value)) != nil } ?? false
        }
        let result = constraint.op == .equal ? equal : !equal
        memo[value] = result
        return result
    }
}

/// The nodes that pass the service-independent filters (status, constraints), cached per constraint set: many
/// services share the same constraints, and constraints never depend on load.
final class FeasibilityCache {
    struct Entry {
        /// Ready nodes meeting every constraint, as ledger indices in id order.
        let nodes: [Int]
        /// Static rejections: node status, then constraints.
        let rejections: RejectionCounts
        /// Per node index: is it in `nodes`.
        let member: [Bool]
    }

    private let nodes: [NodeSnapshot]
    private var matchers: [String: ConstraintMatcher] = [:]
    private var entries: [String: Entry] = [:]

    init(nodes: [NodeSnapshot]) {
        self.nodes = nodes
    }

    func entry(for constraints: [PlacementConstraint]) -> Entry {
        let key = constraints.map(Self.key).joined(separator: "\u{1}")
        if let cached = entries[key] { return cached }
        let active = constraints.map { constraint in
            let k = Self.key(constraint)
            if let m = matchers[k] { return m }
            let m = ConstraintMatcher(constraint)
            matchers[k] = m
            return m
        }
        var feasible: [Int] = []
        var member = Array(repeating: false, count: nodes.count)
        var rejections = RejectionCounts()
        for (index, node) in nodes.enumerated() {
            if let reason = RejectionReason.forStatus(node.status) {
                rejections.add(reason)
            } else if !active.allSatisfy({ $0.matches(node) }) {
                rejections.add(.constraint)
            } else {
                feasible.append(index)
                member[index] = true
            }
        }
        let entry = Entry(nodes: feasible, rejections: rejections, member: member)
        entries[key] = entry
        return entry
    }

    private static func key(_ c: PlacementConstraint) -> String {
        let attribute: String
        switch c.attribute {
        case .nodeID: attribute = "id"
        case .nodeName: attribute = "name"
        case .nodeLabel(let key): attribute = "label:" + key
        }
        let value: String
        switch c.value {
        case .exact(let v): value = "=" + v
        case .pattern(let p): value = "~" + p
        }
        return attribute + c.op.rawValue + value
    }
}
