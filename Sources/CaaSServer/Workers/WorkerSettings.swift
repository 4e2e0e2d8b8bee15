import CaaSPlanner
import CaaSStore
import Foundation

/// Tunables of the scheduler's workers. Defaults are the product's.
public struct WorkerSettings: Sendable {
    /// Names this replica in job leases (`locked_by`) and logs.
    public var replicaID: String
    /// Quotas of tenants without their own; the containers quota is applied where the reconciler
    /// creates containers. The server sets them from its tenancy settings (`CAAS_QUOTA_*`).
    public var quotas = QuotaDefaults()
    /// Job loops per kind running at once in this replica.
    public var reconcileConcurrency = 2
    /// The most reconcile jobs one loop claims and applies together (applications of one
    /// cluster become one transaction and one push).
    public var reconcileBatch = 32
    public var pushConcurrency = 2
    /// How long a claimed job is held before another replica may take it (renewed while running).
    public var jobLease: TimeInterval = 30
    /// The longest a job loop sleeps without a notification (a safety net; notifications and the
    /// next due time wake it earlier).
    public var safetyWake: TimeInterval = 5
    /// Bounded re-plans when the snapshot went stale before apply.
    public var maxConflictRetries = 5
    /// A node without a heartbeat this long is `down` (`node_down_after`).
    public var nodeDownAfter: TimeInterval = 3
    /// A node whose agent keeps heartbeating but reports its engine unreachable this long is
    /// `down` (`node_unreachable_after`): the agent is sure, so this is shorter.
    public var nodeUnreachableAfter: TimeInterval = 1
    /// How often the node monitor looks.
    public var nodeMonitorInterval: TimeInterval = 0.5
    /// How often the ticker queues overdue deployments and prunes finished jobs.
    public var tickerInterval: TimeInterval = 2
    /// Autoscaler: evaluation period, CPU samples no older than this, and cooldown after a change.
    public var autoscaleInterval: TimeInterval = 10
    public var autoscaleSampleWindow: TimeInterval = 30
    public var autoscaleCooldown: TimeInterval = 60
    /// Finished jobs are kept this long (failed ones `failedJobRetention`).
    public var jobRetention: TimeInterval = 3_600
    public var failedJobRetention: TimeInterval = 7 * 86_400
    /// Leadership: how often a follower tries the lock, and how often the leader checks its connection.
    public var leaderRetryInterval: TimeInterval = 1
    public var leaderCheckInterval: TimeInterval = 1
    /// How long the database keeps a leader's silent lock session before ending it (and so
    /// releasing the lock for another replica): nil is five check intervals, at least 10 s.
    /// `CAAS_LEADER_SESSION_TIMEOUT` (seconds).
    public var leaderSessionTimeout: TimeInterval?
    public var planner = PlannerOptions()
    /// Test hook: runs after a reconcile plan is made, before it is applied.
    public var beforeApply: (@Sendable (ClaimedJob, Plan) async throws -> Void)?

    public init(replicaID: String = "caas-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())") {
        self.replicaID = replicaID
    }
}

extension WorkerSettings {
    /// The defaults, with `CAAS_NODE_DOWN_AFTER` (seconds), `CAAS_JOB_LEASE` (seconds),
    /// `CAAS_RECONCILE_CONCURRENCY`, `CAAS_RECONCILE_BATCH` and `CAAS_ROLLOUT_TIMEOUT` (seconds) when set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> WorkerSettings {
        var settings = WorkerSettings()
        if let value = environment["CAAS_NODE_DOWN_AFTER"].flatMap(Double.init), value > 0 { settings.nodeDownAfter = value }
        if let value = environment["CAAS_NODE_UNREACHABLE_AFTER"].flatMap(Double.init), value > 0 { settings.nodeUnreachableAfter = value }
        if let value = environment["CAAS_JOB_LEASE"].flatMap(Double.init), value > 0 { settings.jobLease = value }
        if let value = environment["CAAS_RECONCILE_CONCURRENCY"].flatMap(Int.init), value > 0 { settings.reconcileConcurrency = value }
        if let value = environment["CAAS_RECONCILE_BATCH"].flatMap(Int.init), value > 0 { settings.reconcileBatch = value }
        if let value = environment["CAAS_LEADER_SESSION_TIMEOUT"].flatMap(Double.init), value > 0 { settings.leaderSessionTimeout = value }
        if let value = environment["CAAS_ROLLOUT_TIMEOUT"].flatMap(Double.init), value > 0 { settings.planner.rolloutTimeout = value }
        return settings
    }
}

extension TimeInterval {
    var nanoseconds: UInt64 { UInt64(Swift.max(0, self) * 1_000_000_000) }
}
