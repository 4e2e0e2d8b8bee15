/// Why a node was rejected for a container; counted per reason in explanations
/// ("0/5 nodes: 3 insufficient memory, 2 draining").
public enum RejectionReason: String, Sendable, Hashable, Comparable {
    case nodeNotReady = "not ready"
    case draining = "draining"
    case paused = "paused"
    case down = "down"
    case constraint = "constraint not met"
    case insufficientCPU = "insufficient cpu"
    case insufficientMemory = "insufficient memory"
    case hostPortInUse = "host port in use"
    case alreadyHasGlobalContainer = "already runs the service"
    case maxPerNode = "max per node reached"

    public static func < (lhs: RejectionReason, rhs: RejectionReason) -> Bool { lhs.rawValue < rhs.rawValue }
}
