import CaaSPostgres
import Foundation

extension TenantTransaction {
    /// Enqueues a job of this tenant in this transaction; workers are woken at commit.
    @discardableResult
    public func enqueue(_ job: NewJob) throws -> Int64 {
        var job = job
        job.tenantID = tenantID
        return try JobSQL.enqueue(job, on: connection)
    }
}

extension SystemTransaction {
    /// Enqueues a job (any tenant, or system work) in this transaction.
    @discardableResult
    public func enqueue(_ job: NewJob) throws -> Int64 {
        try JobSQL.enqueue(job, on: connection)
    }

    public func enqueue(_ jobs: [NewJob]) throws {
        try JobSQL.enqueue(jobs, on: connection)
    }

    public func job(_ id: Int64) throws -> JobRecord? {
        try connection.query("SELECT \(jobColumns) FROM jobs WHERE id = $1", [id]).first.map(JobRecord.init(row:))
    }

    /// Jobs for administrators, newest first, keyset-paged by id.
    public func jobs(state: JobState?, kind: String?, limit: Int, before: Int64?) throws -> [JobRecord] {
        try connection.query("""
            SELECT \(jobColumns) FROM jobs
            WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::int8 IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4
            """, [state?.rawValue, kind, before, limit]).map(JobRecord.init(row:))
    }

    /// Queues a failed (or superseded) job again with fresh attempts. Returns nil when there is no
    /// such job; throws `conflict` when it is not failed, or an equal job is queued already.
    public func retryJob(_ id: Int64) throws -> JobRecord? {
        guard let job = try job(id) else { return nil }
        guard job.state == .failed || job.state == .superseded else {
            throw StoreError.conflict("job \(id) is \(job.state.rawValue); only failed jobs can be retried")
        }
        do {
            let rows = try connection.query("""
                UPDATE jobs SET state = 'queued', attempts = 0, run_after = now(), finished_at = NULL, updated_at = now()
                WHERE id = $1 RETURNING \(jobColumns)
                """, [id])
            return try rows.first.map(JobRecord.init(row:))
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw StoreError.conflict("an equal job (\(job.dedupeKey ?? "")) is queued already")
        }
    }

    /// Deletes finished jobs older than `seconds` (failed ones are kept `failedSeconds`).
    public func pruneJobs(olderThan seconds: Int, failedOlderThan failedSeconds: Int) throws -> Int {
        try connection.execute("""
            DELETE FROM jobs WHERE (state IN ('succeeded', 'superseded') AND finished_at < now() - make_interval(secs => $1))
                                OR (state = 'failed' AND finished_at < now() - make_interval(secs => $2))
            """, [seconds, failedSeconds])
    }
}

/// The workers' side of the queue: claim, finish, fail, lease upkeep. Each call is one short
/// system-scope transaction of its own.
public struct JobQueue: Sendable {
    public let store: Store
    public let workerID: String
    /// How long a claim holds a job before another worker may take it.
    public var lease: TimeInterval
    public var backoff: JobBackoff

    public init(store: Store, workerID: String, lease: TimeInterval = 30, backoff: JobBackoff = JobBackoff()) {
        self.store = store
        self.workerID = workerID
        self.lease = lease
        self.backoff = backoff
    }

    public func claim(kinds: [JobKind], limit: Int) async throws -> [ClaimedJob] {
        let names = kinds.map(\.rawValue)
        let (workerID, lease) = (self.workerID, self.lease)
        return try await store.systemTransaction { tx in
            try JobSQL.claim(kinds: names, limit: limit, workerID: workerID, lease: lease, on: tx.connection)
        }.map { ClaimedJob(record: $0, workerID: workerID) }
    }

    /// Marks a job done in a transaction of its own (handlers that have no transaction to fold it into).
    public func complete(_ job: ClaimedJob) async throws {
        try await store.systemTransaction { try JobSQL.complete(job, on: $0.connection) }
    }

    @discardableResult
    public func fail(_ job: ClaimedJob, error: String, permanent: Bool = false) async throws -> JobState {
        let delay = backoff.delay(afterAttempt: job.attempt)
        return try await store.systemTransaction {
            try JobSQL.fail(job, error: error, delay: delay, permanent: permanent, on: $0.connection)
        }
    }

    public func extendLease(_ job: ClaimedJob) async throws -> Bool {
        let lease = self.lease
        return try await store.systemTransaction { try JobSQL.extendLease(job, lease: lease, on: $0.connection) }
    }

    public func secondsUntilNextDue(kinds: [JobKind]) async throws -> Double? {
        let names = kinds.map(\.rawValue)
        return try await store.systemTransaction { try JobSQL.secondsUntilNextDue(kinds: names, on: $0.connection) }
    }
}

extension SystemTransaction {
    /// Fences this transaction with the job's lease (see `JobSQL.fence`): call first.
    public func fence(_ job: ClaimedJob) throws {
        try JobSQL.fence(job, on: connection)
    }

    /// Queues the claimed job again for later without counting the attempt.
    @discardableResult
    public func reschedule(_ job: ClaimedJob, after seconds: TimeInterval) throws -> JobState {
        try JobSQL.reschedule(job, after: seconds, on: connection)
    }

    /// Marks the job done in this transaction: its effects and its completion commit together.
    public func complete(_ job: ClaimedJob) throws {
        try JobSQL.complete(job, on: connection)
    }
}
