/// A node's scheduling status.
public enum NodeStatus: String, Codable, Sendable, Equatable, CaseIterable {
    /// Heartbeats arrive; new containers may be placed.
    case ready
    /// No heartbeat for `node_down_after`; its containers are lost and replaced elsewhere.
    case down
    /// Containers are being moved off; nothing new is placed.
    case draining
    /// Running containers stay; nothing new is placed.
    case paused

    public var acceptsNewContainers: Bool { self == .ready }
}

/// What the control plane wants of a container. Written by the control plane only.
public enum DesiredContainerState: String, Codable, Sendable, Equatable {
    case running
    /// Stop and keep (restart policy `no` after exit, paused rollouts).
    case stopped
    /// Stop and remove; the row is deleted once the agent confirms.
    case removed
}

/// What the agent observed of a container. Written by agents only, and it only moves forward:
/// pending → assigned → starting → running → (exited | failed | lost) → removed. Two exceptions,
/// for a container still wanted, from what its agent observes later: `lost` is the control plane
/// losing sight of it with its node, so it takes what the agent sees once the node is back; and
/// an exited container the agent restarted in place while the control plane was out of reach
/// runs again. (`canMove` is the forward rule; the store applies the exceptions.)
public enum ObservedContainerState: String, Codable, Sendable, Equatable, CaseIterable {
    case pending
    case assigned
    case starting
    case running
    case exited
    case failed
    case lost
    case removed

    /// Position in the lifecycle; the terminal states share one rank.
    public var rank: Int {
        switch self {
        case .pending: 0
        case .assigned: 1
        case .starting: 2
        case .running: 3
        case .exited, .failed, .lost: 4
        case .removed: 5
        }
    }

    /// Whether an observation may replace this one (states never move backwards).
    public func canMove(to next: ObservedContainerState) -> Bool {
        if next == self { return true }
        return next.rank > rank
    }

    public var isTerminal: Bool { rank >= 4 }
}

public enum HealthStatus: String, Codable, Sendable, Equatable {
    case unknown
    case starting
    case healthy
    case unhealthy
}
