import Foundation

/// The progress of moving one service to a new generation, persisted by the worker between plans.
///
/// A rollout always ends: `deadline` bounds it, and a rollback gets a deadline of its own.
public struct RolloutState: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Equatable, Codable {
        /// Batches of containers move to `toGeneration`.
        case inProgress = "in_progress"
        /// Failures exceeded the ratio and the failure action is `pause`: no new batches until a new generation
        /// (or the deadline, which fails it).
        case paused
        /// Moving back to `fromGeneration` with the rollback config.
        case rollingBack = "rolling_back"
        case succeeded
        case failed
        case rolledBack = "rolled_back"

        public var isFinal: Bool { self == .succeeded || self == .failed || self == .rolledBack }
    }

    public var serviceID: String
    /// The generation the service had when the rollout started (the rollback target).
    public var fromGeneration: Int?
    public var toGeneration: Int
    public var phase: Phase
    public var startedAt: Date
    public var deadline: Date
    /// Containers of the target generation counted as failed (each once).
    public var failedContainers: [String]
    public var failures: Int { failedContainers.count }
    /// Slots running the target generation and ready.
    public var updated: Int
    /// Slots to update.
    public var total: Int
    /// Why the phase is what it is (event-worthy).
    public var reason: String
    public var endedAt: Date?

    public init(
        serviceID: String, fromGeneration: Int?, toGeneration: Int, phase: Phase, startedAt: Date, deadline: Date,
        failedContainers: [String] = [], updated: Int = 0, total: Int = 0, reason: String = "", endedAt: Date? = nil
    ) {
        self.serviceID = serviceID
        self.fromGeneration = fromGeneration
        self.toGeneration = toGeneration
        self.phase = phase
        self.startedAt = startedAt
        self.deadline = deadline
        self.failedContainers = failedContainers
        self.updated = updated
        self.total = total
        self.reason = reason
        self.endedAt = endedAt
    }
}
