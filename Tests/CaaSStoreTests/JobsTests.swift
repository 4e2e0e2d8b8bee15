import CaaSPostgres
import CaaSStore
import CaaSTestSupport
import Foundation
import Testing

/// The job queue against a real PostgreSQL: dedupe, SKIP LOCKED claims, leases, fencing,
/// backoff, permanent failure, and the commit-time notification.
@Suite struct JobsTests {
    static let kind = JobKind("test")

    func job(_ key: String? = nil, maxAttempts: Int = 3, runAfter: Date? = nil) -> NewJob {
        NewJob(kind: Self.kind, payload: JobPayload.encode(["k": key ?? "none"]), dedupeKey: key, runAfter: runAfter, maxAttempts: maxAttempts)
    }

    func states(_ db: StoreTestDatabase) async throws -> [(String, Int)] {
        try await db.database.pool.withConnection { c in
            try c.query("SELECT state, attempts::int8 AS a FROM jobs ORDER BY id").map { (try $0.decode("state"), try $0.decode("a")) }
        }
    }

    @Test func aDedupeKeyIsQueuedOnceWhilePendingButAgainOnceRunning() async throws {
        let db = try await StoreTestDatabase.make("jobs_dedupe")
        let first = try await db.store.systemTransaction { try $0.enqueue(job("app-1")) }
        let second = try await db.store.systemTransaction { try $0.enqueue(job("app-1")) }
        #expect(first == second, "queued once while pending")
        let queue = JobQueue(store: db.store, workerID: "w1", lease: 30)
        let claimed = try await queue.claim(kinds: [Self.kind], limit: 10)
        #expect(claimed.map(\.id) == [first])
        let third = try await db.store.systemTransaction { try $0.enqueue(job("app-1")) }
        #expect(third != first, "a running job does not absorb new work: the change may come after its snapshot")
    }

    @Test func aDueJobHeldByAnotherTransactionIsNotReportedDueSoLoopsDoNotSpin() async throws {
        let db = try await StoreTestDatabase.make("jobs_due_locked")
        let queue = JobQueue(store: db.store, workerID: "w1", lease: 30)
        #expect(try await queue.secondsUntilNextDue(kinds: [Self.kind]) == nil, "no job: nothing is due, ever")
        let id = try await db.store.systemTransaction { try $0.enqueue(job("held")) }
        #expect(try await queue.secondsUntilNextDue(kinds: [Self.kind]) == 0, "due now and free")
        // Another transaction (an apply re-queueing the job, say) holds the row until it ends.
        let holder = try PostgresConnection.connect(db.database.pool.configuration.connection)
        defer { holder.close() }
        try holder.execute("BEGIN")
        try holder.execute("UPDATE jobs SET run_after = run_after WHERE id = $1", [id])
        #expect(try await queue.claim(kinds: [Self.kind], limit: 1).isEmpty, "claims skip the held row")
        #expect(try await queue.secondsUntilNextDue(kinds: [Self.kind]) == nil, "and so does the due time: nothing to spin on")
        try holder.execute("COMMIT")
        #expect(try await queue.secondsUntilNextDue(kinds: [Self.kind]) == 0)
        #expect(try await queue.claim(kinds: [Self.kind], limit: 1).map(\.id) == [id])
    }

    @Test func concurrentClaimsNeverShareAJob() async throws {
        let db = try await StoreTestDatabase.make("jobs_skip_locked")
        try await db.store.systemTransaction { tx in try tx.enqueue((0..<40).map { job("j\($0)") }) }
        let ids = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for w in 0..<4 {
                group.addTask {
                    let queue = JobQueue(store: db.store, workerID: "w\(w)", lease: 30)
                    var mine: [Int64] = []
                    while true {
                        let batch = try await queue.claim(kinds: [Self.kind], limit: 3)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            var all: [Int64] = []
            for try await part in group { all += part }
            return all
        }
        #expect(ids.count == 40 && Set(ids).count == 40, "every job claimed exactly once")
    }

    @Test func anExpiredLeaseIsRetakenAndTheOldHolderIsFencedOff() async throws {
        let db = try await StoreTestDatabase.make("jobs_lease")
        try await db.store.systemTransaction { _ = try $0.enqueue(job("x")) }
        let dead = JobQueue(store: db.store, workerID: "dead", lease: 0.3)
        let alive = JobQueue(store: db.store, workerID: "alive", lease: 30)
        let held = try #require(try await dead.claim(kinds: [Self.kind], limit: 1).first)
        #expect(try await alive.claim(kinds: [Self.kind], limit: 1).isEmpty, "leased")
        try await Task.sleep(nanoseconds: 400_000_000)
        let retaken = try #require(try await alive.claim(kinds: [Self.kind], limit: 1).first, "lease expired")
        #expect(retaken.id == held.id && retaken.attempt == 2)
        await #expect(throws: JobLeaseLost.self) { try await dead.complete(held) }
        await #expect(throws: JobLeaseLost.self) {
            try await db.store.systemTransaction { try $0.fence(held) }
        }
        try await alive.complete(retaken)
        #expect(try await states(db).map(\.0) == ["succeeded"])
    }

    @Test func aJobWhoseWorkerDiesOnEveryAttemptEndsFailedAfterMaxAttempts() async throws {
        let db = try await StoreTestDatabase.make("jobs_lease_max")
        try await db.store.systemTransaction { _ = try $0.enqueue(job("crashes", maxAttempts: 2)) }
        // Each worker claims the job and dies (never completes, never fails it): its lease runs out.
        for attempt in 1...2 {
            let dying = JobQueue(store: db.store, workerID: "dying-\(attempt)", lease: 0.2)
            let claimed = try #require(try await dying.claim(kinds: [Self.kind], limit: 1).first, "attempt \(attempt)")
            #expect(claimed.attempt == attempt)
            try await Task.sleep(nanoseconds: 300_000_000)
        }
        let next = JobQueue(store: db.store, workerID: "next", lease: 30)
        #expect(try await next.claim(kinds: [Self.kind], limit: 1).isEmpty, "not taken a third time")
        #expect(try await states(db).map(\.0) == ["failed"])
        let failed = try await db.store.systemTransaction { try $0.jobs(state: .failed, kind: nil, limit: 10, before: nil) }
        #expect(failed.count == 1)
        #expect(failed.first?.lastError?.contains("attempt 2 of 2") == true, "\(String(describing: failed.first?.lastError))")
        #expect(try await next.secondsUntilNextDue(kinds: [Self.kind]) == nil, "nothing left to spin on")
    }

    @Test func failuresBackOffThenEndFailedAfterMaxAttempts() async throws {
        let db = try await StoreTestDatabase.make("jobs_backoff")
        try await db.store.systemTransaction { _ = try $0.enqueue(job(nil, maxAttempts: 2)) }
        let queue = JobQueue(store: db.store, workerID: "w", lease: 30, backoff: JobBackoff(base: 20, cap: 60))
        let first = try #require(try await queue.claim(kinds: [Self.kind], limit: 1).first)
        #expect(try await queue.fail(first, error: "boom 1") == .queued)
        #expect(try await queue.claim(kinds: [Self.kind], limit: 1).isEmpty, "waiting out its backoff")
        let wait = try #require(try await queue.secondsUntilNextDue(kinds: [Self.kind]))
        #expect(wait > 9 && wait <= 20, "backoff \(wait)s within [base/2, base]")
        // Let the backoff pass without waiting for it.
        try await db.database.pool.withConnection { _ = try $0.execute("UPDATE jobs SET run_after = now()") }
        let second = try #require(try await queue.claim(kinds: [Self.kind], limit: 1).first)
        #expect(second.attempt == 2)
        #expect(try await queue.fail(second, error: "boom 2") == .failed)
        let failed = try await db.store.systemTransaction { try $0.jobs(state: .failed, kind: nil, limit: 10, before: nil) }
        #expect(failed.count == 1 && failed[0].lastError == "boom 2")
        let retried = try await db.store.systemTransaction { try $0.retryJob(failed[0].id) }
        #expect(retried?.state == .queued && retried?.attempts == 0)
    }

    @Test func aRetryFoldsIntoAnEqualQueuedJob() async throws {
        let db = try await StoreTestDatabase.make("jobs_fold")
        try await db.store.systemTransaction { _ = try $0.enqueue(job("same")) }
        let queue = JobQueue(store: db.store, workerID: "w", lease: 30)
        let running = try #require(try await queue.claim(kinds: [Self.kind], limit: 1).first)
        try await db.store.systemTransaction { _ = try $0.enqueue(job("same")) }
        #expect(try await queue.fail(running, error: "transient") == .superseded)
        #expect(try await states(db).map(\.0) == ["superseded", "queued"])
    }

    @Test func payloadsAreJSONObjectsWithSortedKeysAndEveryCharacterEscaped() throws {
        #expect(JobPayload.encode(["b": "2", "a": "1"]) == #"{"a":"1","b":"2"}"#)
        #expect(JobPayload.encode([:]) == "{}")
        let tricky = ["quote": "say \"hi\"", "slash": "a/b\\c", "lines": "one\ntwo\r\tthree", "control": "\u{01}\u{1f}",
                      "unicode": "中文 🎉 é", "empty": ""]
        let text = JobPayload.encode(tricky)
        let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(decoded == tricky, "\(text)")
        #expect(text.contains(#"\u0001"#) && text.contains(#"\n"#) && !text.contains("\n"))
        #expect(JobPayload.string(text, "unicode") == "中文 🎉 é")
    }

    @Test func backoffGrowsExponentiallyWithJitterUpToTheCap() {
        let backoff = JobBackoff(base: 1, cap: 10)
        #expect(backoff.delay(afterAttempt: 1, random: { $0.upperBound }) == 1)
        #expect(backoff.delay(afterAttempt: 3, random: { $0.upperBound }) == 4)
        #expect(backoff.delay(afterAttempt: 3, random: { $0.lowerBound }) == 2)
        #expect(backoff.delay(afterAttempt: 20, random: { $0.upperBound }) == 10)
    }

    @Test func enqueueNotifiesListenersAtCommitOnly() async throws {
        let db = try await StoreTestDatabase.make("jobs_notify")
        let listener = PostgresListener(configuration: PostgresConfiguration(url: db.database.url))
        defer { listener.shutdown() }
        let stream = try await listener.listen(jobsChannel)
        let received = Task { () -> String? in
            for await event in stream {
                if case .notification(let n) = event { return n.payload }
            }
            return nil
        }
        try await db.store.systemTransaction { _ = try $0.enqueue(job("n")) }
        let payload = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { await received.value }
            group.addTask { try await Task.sleep(nanoseconds: 5_000_000_000); return nil }
            let first = try await group.next()!
            group.cancelAll()
            received.cancel()
            return first
        }
        #expect(payload == Self.kind.rawValue)
    }
}
