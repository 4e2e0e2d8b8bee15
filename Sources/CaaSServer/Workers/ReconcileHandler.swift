import CaaSPlanner
import CaaSStore
import Foundation
import Logging

/// `reconcile` jobs: snapshot → `Planner.plan` → apply in one fenced transaction that also
/// completes the job. A stale snapshot (the apply's checks failed) is read again, a bounded
/// number of times; then the job fails and is retried with backoff.
public struct ReconcileHandler: JobHandler {
    public let store: Store
    public let options: PlannerOptions
    public let maxConflictRetries: Int
    public let signal: any JobSignal
    public let logger: Logger
    /// Test hook: runs after the plan is made, before it is applied.
    public var beforeApply: (@Sendable (ClaimedJob, Plan) async throws -> Void)?

    public init(store: Store, options: PlannerOptions, maxConflictRetries: Int, signal: any JobSignal, logger: Logger) {
        self.store = store
        self.options = options
        self.maxConflictRetries = maxConflictRetries
        self.signal = signal
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
            guard let snapshot = try await store.systemTransaction({ try $0.schedulingSnapshot(applicationID: appID) }) else {
                // The application is gone: nothing to do.
                return .finished
            }
            let now = Date()
            let plan = Planner.plan(snapshot.snapshot, now: now, options: options)
            let t1 = Date()
            try await beforeApply?(job, plan)
            do {
                let outcome = try await store.systemTransaction { try $0.apply(plan, to: snapshot, now: now, job: job) }
                if outcome.clusterGeneration != nil || plan.nextReviewAt != nil { signal.signal() }
                if !plan.isEmpty || !plan.unplaced.isEmpty {
                    logger.debug("plan applied", metadata: [
                        "read_ms": "\(Int(now.timeIntervalSince(t0) * 1000))", "plan_ms": "\(Int(t1.timeIntervalSince(now) * 1000))",
                        "apply_ms": "\(Int(Date().timeIntervalSince(t1) * 1000))",
                        "steps": "\(outcome.timings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
                        "application.id": .string(appID), "created": "\(outcome.created.count)",
                        "removed_or_stopped": "\(outcome.removedOrStopped)", "lost": "\(outcome.lost)",
                        "unplaced": "\(plan.unplaced.reduce(0) { $0 + $1.count })", "attempt": "\(attempt)",
                    ])
                }
                return .completed
            } catch let conflict as SchedulingConflict {
                lastConflict = conflict
                logger.debug("stale snapshot; planning again", metadata: ["application.id": .string(appID), "reason": .string(conflict.reason)])
            }
        }
        throw lastConflict ?? SchedulingConflict(reason: "retries exhausted")
    }
}
