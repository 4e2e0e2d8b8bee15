import CaaSModel
import Foundation

/// The planner's only output: what should change, each change with its reason. The store applies it in one
/// transaction against the versions it read (and re-plans on conflict).
///
/// Applying a plan: `removals` and `stops` first (they free resources and host ports the `placements` may use),
/// then `placements` and `restarts` as new container rows, then `rollouts`.
public struct Plan: Sendable, Equatable {
    /// New containers to create.
    public var placements: [ContainerPlacement] = []
    /// Containers whose desired state becomes `stopped` (kept, not restarted).
    public var stops: [ContainerStop] = []
    /// Containers whose desired state becomes `removed`; rows are deleted once their agent confirms.
    public var removals: [ContainerRemoval] = []
    /// Containers declared lost because their node is down (their observed state becomes `lost`).
    public var lost: [LostContainer] = []
    /// Old → new pairs (rolling updates, rollbacks, lost containers, drained nodes). The new container is the
    /// placement with the same service, slot and generation; store `replacedBy` on the old one to fence it.
    public var replacements: [Replacement] = []
    /// Exited containers started again: a new incarnation of the slot, created not before `notBefore`.
    public var restarts: [ContainerRestart] = []
    /// Containers that could not be placed now; their slots stay empty and are retried by the next plan.
    public var unplaced: [Unplaced] = []
    /// Rollouts that started, progressed or ended (persist them; feed them back in the next snapshot).
    public var rollouts: [RolloutState] = []
    /// Decisions not to act yet (waiting for health, a batch delay, a backoff), for status and events.
    public var waits: [Wait] = []
    /// The earliest time at which planning again may decide something new (backoffs, monitor periods, delays,
    /// deadlines); `nil` when only a new event can.
    public var nextReviewAt: Date?

    public init() {}

    /// Nothing to do.
    public var isEmpty: Bool {
        placements.isEmpty && stops.isEmpty && removals.isEmpty && lost.isEmpty && restarts.isEmpty && rollouts.isEmpty
    }
}

/// Why a container is created.
public enum PlacementCause: String, Sendable, Equatable, Codable {
    /// A slot of the desired count has no container (first deployment, scale up, a retried unplaced slot).
    case missing
    /// Global mode: an eligible node has no container of the service.
    case globalNode
    /// Replaces a container lost with its node.
    case lost
    /// Moves a container off a draining node.
    case drain
    /// A rolling update batch.
    case update
    /// A rollback batch.
    case rollback
    /// A restart that could not stay on its node.
    case restart
}

public struct ContainerPlacement: Sendable, Equatable {
    public var serviceID: String
    public var slot: Int
    public var generation: Int
    public var nodeID: String
    public var cause: PlacementCause
    /// The container this one replaces, if any.
    public var replacing: String?
    /// Carried restart count (non-zero only for restarts that had to move).
    public var restartCount: Int
    /// Do not start before this time (restart backoff).
    public var notBefore: Date?
    public var reason: String
}

public struct ContainerStop: Sendable, Equatable {
    public var containerID: String
    public var serviceID: String
    public var reason: String
}

public enum RemovalCause: String, Sendable, Equatable, Codable {
    case scaleDown
    case lost
    /// Superseded by a newer copy of its slot (rolling update, drain, restart, stale copy on a returning node).
    case replaced
    /// A copy of a slot that another container already holds.
    case stale
    /// Global mode: the node is no longer eligible.
    case ineligibleNode
    /// The service no longer exists in the snapshot's services.
    case serviceRemoved
}

public struct ContainerRemoval: Sendable, Equatable {
    public var containerID: String
    public var serviceID: String
    public var cause: RemovalCause
    public var reason: String
}

public struct LostContainer: Sendable, Equatable {
    public var containerID: String
    public var serviceID: String
    public var nodeID: String
    public var reason: String
}

public enum ReplacementCause: String, Sendable, Equatable, Codable {
    case lost, drain, update, rollback
}

public struct Replacement: Sendable, Equatable {
    public var old: String
    public var serviceID: String
    public var slot: Int
    public var newGeneration: Int
    public var newNodeID: String
    public var cause: ReplacementCause
    /// `startFirst`: the old one keeps running until the new one is ready (a later plan removes it);
    /// `stopFirst`: the old one is removed in this plan.
    public var order: UpdateConfig.Order
    public var reason: String
}

public struct ContainerRestart: Sendable, Equatable {
    /// The exited container; it is removed and its slot continues in a new incarnation.
    public var containerID: String
    public var serviceID: String
    public var slot: Int
    public var generation: Int
    public var nodeID: String
    /// Restarts of the slot including this one (crash loops show here).
    public var restartCount: Int
    public var lastExitCode: Int?
    /// Backoff: the new incarnation starts no earlier than this.
    public var notBefore: Date
    public var backoff: TimeInterval
    public var reason: String
}

public struct Unplaced: Sendable, Equatable {
    public var serviceID: String
    public var slots: [Int]
    public var count: Int { slots.count }
    /// `"0/5 nodes are available: 3 insufficient memory, 2 draining"`.
    public var explanation: String
}

public struct Wait: Sendable, Equatable {
    public var serviceID: String
    public var until: Date?
    public var reason: String
}
