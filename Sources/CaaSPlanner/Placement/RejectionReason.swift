/// Why a node was rejected for a container. Counted per reason in explanations
/// ("0/5 nodes are available: 3 insufficient memory, 2 draining").
///
/// Declaration order is the order the filters run (a node is counted under the first filter that rejects it) and
/// the tie-break between equal counts in an explanation.
public enum RejectionReason: String, Sendable, Hashable, CaseIterable, Comparable {
    case down = "down"
    case draining = "draining"
    case paused = "paused"
    case constraint = "constraint not met"
    case alreadyRunsService = "already runs the service"
    case maxPerNode = "max replicas per node reached"
    case insufficientCPU = "insufficient cpu"
    case insufficientMemory = "insufficient memory"
    case hostPortInUse = "host port in use"

    var order: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: RejectionReason, rhs: RejectionReason) -> Bool { lhs.order < rhs.order }

    static func forStatus(_ status: NodeStatus) -> RejectionReason? {
        switch status {
        case .ready: nil
        case .down: .down
        case .draining: .draining
        case .paused: .paused
        }
    }
}

import CaaSModel

/// Rejections counted per reason, rendered in a stable order: larger counts first, then filter order.
public struct RejectionCounts: Sendable, Equatable {
    var counts: [Int] = Array(repeating: 0, count: RejectionReason.allCases.count)

    public init() {}

    public mutating func add(_ reason: RejectionReason, _ n: Int = 1) { counts[reason.order] += n }

    public subscript(reason: RejectionReason) -> Int { counts[reason.order] }

    public var total: Int { counts.reduce(0, +) }

    /// `"3 insufficient memory, 2 draining"`.
    public var summary: String {
        RejectionReason.allCases
            .filter { self[$0] > 0 }
            .sorted { (self[$0], $1.order) > (self[$1], $0.order) }
            .map { "\(self[$0]) \($0.rawValue)" }
            .joined(separator: ", ")
    }

    /// `"0/5 nodes are available: 3 insufficient memory, 2 draining"`.
    public func explanation(available: Int, of nodeCount: Int) -> String {
        let head = "\(available)/\(nodeCount) nodes are available"
        let detail = summary
        return detail.isEmpty ? head : head + ": " + detail
    }
}
