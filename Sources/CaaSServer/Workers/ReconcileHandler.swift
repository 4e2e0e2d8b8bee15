import CaaSPlanner
import CaaSStore
import Foundation
import Logging

/// `reconcile` jobs: snapshot → `Planner.plan` → apply in one fenced transaction that also
/// completes the job. A stale snapshot (the apply's checks failed) is read again, a bounded
/// number of times; then the job fails and is retried with backoff.
///
/// Due jobs are claimed `batchLimit` at a time: the applications of one cluster are read in one
/// go, planned in turn (`Planner.planInSequence`) and applied as one change, so a burst of work
/// (a hundred applications created at once, a node's containers moved) costs one cluster lock,
/// one run of events and one push instead of one each. A batch that meets a stale snapshot is
/// not retried as a batch: its jobs run one by one.
public struct ReconcileHandler: JobHandler {
    public let store: Store
    public let options: PlannerOptions
    public let maxConflictRetries: Int
    public let batchLimit: Int
    public let signal: any JobSignal
    /// The containers quota of tenants without their own (`CAAS_QUOTA_CONTAINERS`), applied
    /// where containers are born.
    public let quotas: QuotaDefaults
    public let logger: Logger
    /// Test hook: runs after the plan is made, before it is applied.
    public var beforeApply: (@Sendable (ClaimedJob, Plan) async throws -> Void)?

    public init(store: Store, options: PlannerOptions, maxConflictRetries: Int, batchLimit: Int = 1, signal: any JobSignal,
                quotas: QuotaDefaults, logger: Logger) {
        self.store = store
        self.options = options
        self.maxConflictRetries = maxConflictRetries
        self.batchLimit = max(1, batchLimit)
        self.signal = signal
        self.quotas = quotas
        self.logger = logger
    }

    public var kind: JobKind { .reconcile }

    public func handle(_ job: ClaimedJob) async throws -> JobResult {
        guard let appID = job.record.payloadString("application_id") else {
            throw PermanentJobFailure("reconcile job without application_id")
        }
        var lastConflict: SchedulingConflict?
        for attempt in 1...max(1, maxConflictRetries) {
            let t0 = Date()
            // The application is gone: nothing to do.
            guard let snapshot = try await store.systemTransaction({ try $0.schedulingSnapshots(applicationIDs: [appID]) }).first else {
                return .finished
            }
            do {
                try await apply([snapshot], jobs: [appID: job], attempt: attempt, readAt: t0)
                return .completed
            } catch let conflict as SchedulingConflict {
                lastConflict = conflict
                logger.debug("stale snapshot; planning again", metadata: ["application.id": .string(appID), "reason": .string(conflict.reason)])
            }
        }
        throw lastConflict ?? SchedulingConflict(reason: "retries exhausted")
    }

    public func handle(batch: [ClaimedJob]) async -> [ClaimedJob] {
        var left: [ClaimedJob] = []
        var jobs: [String: ClaimedJob] = [:]
        for job in batch {
            // Malformed jobs and a second job for the same application go the single way.
            if let appID = job.record.payloadString("application_id"), jobs[appID] == nil {
                jobs[appID] = job
            } else {
                left.append(job)
            }
        }
        let t0 = Date()
        let ids = jobs.keys.sorted()
        guard ids.count > 1,
              let snapshots = try? await store.systemTransaction({ try $0.schedulingSnapshots(applicationIDs: ids) })
        else { return batch }
        // Jobs of applications that are gone are finished on the single way.
        let found = Set(snapshots.map(\.applicationID))
        left += jobs.filter { !found.contains($0.key) }.map(\.value)
        var clusters: [String: [SchedulingSnapshot]] = [:]
        for snapshot in snapshots { clusters[snapshot.clusterID, default: []].append(snapshot) }
        for clusterID in clusters.keys.sorted() {
            let group = clusters[clusterID]!
            do {
                try await apply(group, jobs: jobs, attempt: 1, readAt: t0)
            } catch {
                if !Task.isCancelled {
                    logger.debug("batch not applied; its jobs run one by one",
                                 metadata: ["cluster.id": .string(clusterID), "jobs": "\(group.count)", "error": "\(error)"])
                }
                left += group.map { jobs[$0.applicationID]! }
            }
        }
        return left.sorted { $0.id < $1.id }
    }

    /// Plans the applications of one cluster in turn and applies them as one change that
    /// completes their jobs.
    func apply(_ group: [SchedulingSnapshot], jobs: [String: ClaimedJob], attempt: Int, readAt t0: Date) async throws {
        let now = Date()
        let plans = Planner.planInSequence(group.map(\.snapshot), now: now, options: options)
        let t1 = Date()
        let batch = zip(group, plans).map { PlannedApplication(snapshot: $0, plan: $1) }
        let claimed = group.map { jobs[$0.applicationID]! }
        if let beforeApply { for (job, plan) in zip(claimed, plans) { try await beforeApply(job, plan) } }
        let outcome = try await store.systemTransaction { try $0.apply(batch, now: now, jobs: claimed, quotas: quotas) }
        if outcome.clusterGeneration != nil || plans.contains(where: { $0.nextReviewAt != nil }) { signal.signal() }
        guard plans.contains(where: { !$0.isEmpty || !$0.unplaced.isEmpty }) else { return }
        logger.debug("plan applied", metadata: [
            "read_ms": "\(Int(now.timeIntervalSince(t0) * 1000))", "plan_ms": "\(Int(t1.timeIntervalSince(now) * 1000))",
            "apply_ms": "\(Int(Date().timeIntervalSince(t1) * 1000))",
            "steps": "\(outcome.timings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            "applications": "\(batch.count)", "application.id": .string(group[0].applicationID),
            "created": "\(outcome.created.count)", "removed_or_stopped": "\(outcome.removedOrStopped)", "lost": "\(outcome.lost)",
            "unplaced": "\(plans.reduce(0) { $0 + $1.unplaced.reduce(0) { $0 + $1.count } })", "attempt": "\(attempt)",
        ])
    }
}
