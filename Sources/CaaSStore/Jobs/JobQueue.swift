import CaaSPostgres
import Foundation

/// The LISTEN channel job inserts notify on (trigger of migration 0003); the payload is the kind.
public let jobsChannel = "caas_jobs"

/// Why a fenced job operation was refused: the lease is no longer this worker's (it expired and
/// another worker took the job, or an administrator changed it).
public struct JobLeaseLost: Error, Sendable, Equatable, CustomStringConvertible {
    public var jobID: Int64
    public var workerID: String
    public var description: String { "job \(jobID) is no longer leased to \(workerID)" }
}

let jobColumns = """
    id, kind, payload::text AS payload, tenant_id, dedupe_key, state, run_after, attempts::int8 AS attempts,
    max_attempts::int8 AS max_attempts, last_error, locked_by, locked_until, created_at, updated_at, started_at, finished_at
    """

extension JobRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        kind = JobKind(try row.decode("kind", as: String.self))
        payload = try row.decode("payload")
        tenantID = try row.decode("tenant_id")
        dedupeKey = try row.decode("dedupe_key")
        state = JobState(rawValue: try row.decode("state", as: String.self)) ?? .failed
        runAfter = try row.decode("run_after")
        attempts = try row.decode("attempts")
        maxAttempts = try row.decode("max_attempts")
        lastError = try row.decode("last_error")
        lockedBy = try row.decode("locked_by")
        lockedUntil = try row.decode("locked_until")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        startedAt = try row.decode("started_at")
        finishedAt = try row.decode("finished_at")
    }
}

/// The job queue's SQL. Every function runs on the caller's connection, inside the caller's
/// transaction: enqueueing commits with the change that caused it, or not at all.
enum JobSQL {
    /// Inserts a job (or, with a dedupe key already queued, moves that one earlier). Returns its id.
    @discardableResult
    static func enqueue(_ job: NewJob, on connection: PostgresConnection) throws -> Int64 {
        let rows = try connection.query("""
            INSERT INTO jobs (kind, payload, tenant_id, dedupe_key, run_after, max_attempts)
            VALUES ($1, $2::jsonb, $3, $4, COALESCE($5, now()), $6)
            ON CONFLICT (dedupe_key) WHERE state = 'queued'
            DO UPDATE SET run_after = LEAST(jobs.run_after, EXCLUDED.run_after), updated_at = now()
            RETURNING id
            """, [job.kind.rawValue, job.payload, job.tenantID, job.dedupeKey, job.runAfter, job.maxAttempts])
        return try rows[0].decode("id")
    }

    /// Many jobs in one statement (e.g. a push per cluster, a reconcile per application).
    static func enqueue(_ jobs: [NewJob], on connection: PostgresConnection) throws {
        guard !jobs.isEmpty else { return }
        // Duplicates within one batch would hit the same conflict target twice in one statement.
        var seen = Set<String>()
        var unique: [NewJob] = []
        for job in jobs {
            if let key = job.dedupeKey {
                if seen.contains(key) { continue }
                seen.insert(key)
            }
            unique.append(job)
        }
        _ = try connection.execute("""
            INSERT INTO jobs (kind, payload, tenant_id, dedupe_key, run_after, max_attempts)
            SELECT k, p::jsonb, t, d, COALESCE(r, now()), m
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int8[]) AS u(k, p, t, d, r, m)
            ON CONFLICT (dedupe_key) WHERE state = 'queued'
            DO UPDATE SET run_after = LEAST(jobs.run_after, EXCLUDED.run_after), updated_at = now()
            """, [unique.map(\.kind.rawValue), unique.map(\.payload), unique.map(\.tenantID), unique.map(\.dedupeKey),
                  unique.map(\.runAfter), unique.map(\.maxAttempts)])
    }

    /// Claims up to `limit` due jobs of `kinds`: queued ones whose time has come, and running ones
    /// whose lease ran out (their worker is gone). Each claim counts an attempt. A job whose lease
    /// ran out on its last attempt is not taken again but ends `failed`: a handler that kills or
    /// wedges its process must not do so for ever (administrators see it in `GET /v1/admin/jobs`).
    static func claim(kinds: [String], limit: Int, workerID: String, lease: TimeInterval,
                      on connection: PostgresConnection) throws -> [JobRecord] {
        _ = try connection.execute("""
            UPDATE jobs SET state = 'failed', locked_by = NULL, locked_until = NULL, finished_at = now(), updated_at = now(),
                   last_error = format('its worker stopped or hung on attempt %s of %s (the lease ran out)%s', attempts, max_attempts,
                                       CASE WHEN last_error IS NULL THEN '' ELSE '; before: ' || left(last_error, 1000) END)
            WHERE id IN (SELECT id FROM jobs
                         WHERE kind = ANY($1::text[]) AND state = 'running' AND locked_until < now() AND attempts >= max_attempts
                         FOR UPDATE SKIP LOCKED)
            """, [kinds])
        return try connection.query("""
            WITH due AS (
                SELECT id FROM jobs
                WHERE kind = ANY($1::text[])
                  AND ((state = 'queued' AND run_after <= now()) OR (state = 'running' AND locked_until < now()))
                ORDER BY run_after, id
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, locked_by = $3,
                   last_error = CASE WHEN j.state = 'running' THEN format('attempt %s: its worker stopped or hung (the lease ran out)', j.attempts)
                                     ELSE j.last_error END,
                   locked_until = now() + make_interval(secs => $4), started_at = now(), updated_at = now()
            FROM due WHERE j.id = due.id
            RETURNING \(jobColumns.split(separator: ",").map { "j." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", "))
            """, [kinds, limit, workerID, lease]).map(JobRecord.init(row:)).sorted { $0.id < $1.id }
    }

    /// Locks the job's row and checks that the lease is still `job`'s. Call first in a transaction
    /// whose effects must happen at most once per job.
    static func fence(_ job: ClaimedJob, on connection: PostgresConnection) throws {
        try fence([job], on: connection)
    }

    /// `fence` for several jobs (in id order, so concurrent fences cannot deadlock).
    static func fence(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws {
        guard !jobs.isEmpty else { return }
        let held = Set(try connection.query("""
            SELECT j.id FROM jobs j JOIN unnest($1::int8[], $2::text[], $3::int8[]) AS u(id, worker, attempts)
              ON j.id = u.id AND j.locked_by = u.worker AND j.attempts = u.attempts
            WHERE j.state = 'running' ORDER BY j.id FOR UPDATE OF j
            """, [jobs.map(\.id), jobs.map(\.workerID), jobs.map(\.attempt)]).map { try $0.decode("id", as: Int64.self) })
        if let lost = jobs.first(where: { !held.contains($0.id) }) { throw JobLeaseLost(jobID: lost.id, workerID: lost.workerID) }
    }

    static func complete(_ job: ClaimedJob, on connection: PostgresConnection) throws {
        try complete([job], on: connection)
    }

    /// Marks leased jobs succeeded; throws `JobLeaseLost` (and the caller's transaction rolls
    /// back) when any lease is no longer the worker's.
    static func complete(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws {
        guard !jobs.isEmpty else { return }
        let done = Set(try connection.query("""
            UPDATE jobs j SET state = 'succeeded', locked_by = NULL, locked_until = NULL, last_error = NULL,
                   finished_at = now(), updated_at = now()
            FROM unnest($1::int8[], $2::text[], $3::int8[]) AS u(id, worker, attempts)
            WHERE j.id = u.id AND j.state = 'running' AND j.locked_by = u.worker AND j.attempts = u.attempts
            RETURNING j.id
            """, [jobs.map(\.id), jobs.map(\.workerID), jobs.map(\.attempt)]).map { try $0.decode("id", as: Int64.self) })
        if let lost = jobs.first(where: { !done.contains($0.id) }) { throw JobLeaseLost(jobID: lost.id, workerID: lost.workerID) }
    }

    /// Records a failure: queued again after `delay`, or `failed` for good when attempts are used
    /// up or `permanent`. A retry whose dedupe key is queued already is folded into that job.
    /// Returns the job's new state.
    static func fail(_ job: ClaimedJob, error: String, delay: TimeInterval, permanent: Bool,
                     on connection: PostgresConnection) throws -> JobState {
        try fence(job, on: connection)
        let message = String(error.prefix(2000))
        if permanent || job.attempt >= job.record.maxAttempts {
            _ = try connection.execute("""
                UPDATE jobs SET state = 'failed', last_error = $2, locked_by = NULL, locked_until = NULL,
                       finished_at = now(), updated_at = now()
                WHERE id = $1
                """, [job.id, message])
            return .failed
        }
        if let key = job.record.dedupeKey {
            let merged = try connection.execute("""
                UPDATE jobs SET run_after = LEAST(run_after, now() + make_interval(secs => $2)), updated_at = now()
                WHERE dedupe_key = $1 AND state = 'queued'
                """, [key, delay])
            if merged > 0 {
                _ = try connection.execute("""
                    UPDATE jobs SET state = 'superseded', last_error = $2, locked_by = NULL, locked_until = NULL,
                           finished_at = now(), updated_at = now()
                    WHERE id = $1
                    """, [job.id, message])
                return .superseded
            }
        }
        _ = try connection.execute("""
            UPDATE jobs SET state = 'queued', last_error = $2, locked_by = NULL, locked_until = NULL,
                   run_after = now() + make_interval(secs => $3), updated_at = now()
            WHERE id = $1
            """, [job.id, message, delay])
        return .queued
    }

    /// Puts a claimed job back in the queue for `at` without counting the attempt (it did not run);
    /// folded into an equal queued job when there is one. Returns the job's new state.
    static func reschedule(_ job: ClaimedJob, after seconds: TimeInterval, on connection: PostgresConnection) throws -> JobState {
        try fence(job, on: connection)
        if let key = job.record.dedupeKey {
            let merged = try connection.execute("""
                UPDATE jobs SET run_after = LEAST(run_after, now() + make_interval(secs => $2)), updated_at = now()
                WHERE dedupe_key = $1 AND state = 'queued'
                """, [key, seconds])
            if merged > 0 {
                _ = try connection.execute("""
                    UPDATE jobs SET state = 'superseded', locked_by = NULL, locked_until = NULL, finished_at = now(), updated_at = now()
                    WHERE id = $1
                    """, [job.id])
                return .superseded
            }
        }
        _ = try connection.execute("""
            UPDATE jobs SET state = 'queued', attempts = GREATEST(0, attempts - 1), locked_by = NULL, locked_until = NULL,
                   run_after = now() + make_interval(secs => $2), updated_at = now()
            WHERE id = $1
            """, [job.id, seconds])
        return .queued
    }

    /// Extends the lease of a job still held by this worker; false when it is not any more.
    static func extendLease(_ job: ClaimedJob, lease: TimeInterval, on connection: PostgresConnection) throws -> Bool {
        try connection.execute("""
            UPDATE jobs SET locked_until = now() + make_interval(secs => $4), updated_at = now()
            WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $3
            """, [job.id, job.workerID, job.attempt, lease]) == 1
    }

    /// Seconds until the next job of `kinds` becomes due (a queued job's `run_after` or a running
    /// job's lease end); 0 when one is due now; nil when there is none.
    static func secondsUntilNextDue(kinds: [String], on connection: PostgresConnection) throws -> Double? {
        // Rows another transaction holds (a claim in progress, an apply re-queueing the job) are
        // skipped, as `claim` skips them: counting them would say "due now" to a loop that cannot
        // take the job, and it would spin until that transaction ends. Its commit notifies.
        // (No GREATEST(0, …) in SQL: it ignores NULL, and "no job at all" must stay NULL.)
        let row = try connection.query("""
            SELECT EXTRACT(EPOCH FROM (LEAST(
                (SELECT run_after FROM jobs WHERE state = 'queued' AND kind = ANY($1::text[])
                 ORDER BY run_after LIMIT 1 FOR SHARE SKIP LOCKED),
                (SELECT locked_until FROM jobs WHERE state = 'running' AND kind = ANY($1::text[])
                 ORDER BY locked_until LIMIT 1 FOR SHARE SKIP LOCKED)
            ) - now()))::float8 AS seconds
            """, [kinds])[0]
        return try row.decode("seconds", as: Double?.self).map { max(0, $0) }
    }
}
