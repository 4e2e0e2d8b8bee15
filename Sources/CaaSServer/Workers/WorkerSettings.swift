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
    /// The defaults, with `CAAS_NODE_DOWN_AFTER` and `CAAS_NODE_UNREACHABLE_AFTER` (seconds),
    /// `CAAS_JOB_LEASE` and `CAAS_LEADER_SESSION_TIMEOUT` (seconds), `CAAS_RECONCILE_CONCURRENCY`
    /// and `CAAS_RECONCILE_BATCH` when set; a value out of its range is refused naming the setting.
    public static func resolve(environment: [String: String]) throws(ConfigurationError) -> WorkerSettings {
        var settings = WorkerSettings()
        func seconds(_ name: String, _ range: ClosedRange<Double>, _ shown: String) throws(ConfigurationError) -> Double? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Double(text), range.contains(value) else {
                throw ConfigurationError(setting: name, message: "\(text) is not a number of seconds from \(shown)")
            }
            return value
        }
        func count(_ name: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw ConfigurationError(setting: name, message: "\(text) is not an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        if let value = try seconds("CAAS_NODE_DOWN_AFTER", 0.1...3600, "0.1 to 3600") { settings.nodeDownAfter = value }
        if let value = try seconds("CAAS_NODE_UNREACHABLE_AFTER", 0.1...3600, "0.1 to 3600") { settings.nodeUnreachableAfter = value }
        if let value = try seconds("CAAS_JOB_LEASE", 1...3600, "1 to 3600") { settings.jobLease = value }
        if let value = try count("CAAS_RECONCILE_CONCURRENCY", 1...64) { settings.reconcileConcurrency = value }
        if let value = try count("CAAS_RECONCILE_BATCH", 1...1000) { settings.reconcileBatch = value }
        if let value = try seconds("CAAS_LEADER_SESSION_TIMEOUT", 1...3600, "1 to 3600") { settings.leaderSessionTimeout = value }
        return settings
    }
}

extension TimeInterval {
    var nanoseconds: UInt64 { UInt64(Swift.max(0, self) * 1_000_000_000) }
}
