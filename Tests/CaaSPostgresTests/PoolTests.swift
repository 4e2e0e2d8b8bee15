import CaaSPostgres
import CaaSTestSupport
import Foundation
import Testing

@Suite("PostgresPool: threads, limits, transactions, retries")
struct PoolTests {
    @Test func bodiesRunOnDedicatedThreadsNotTheCooperativePool() async throws {
        let db = try await TestPostgres.makeDatabase(label: "threads")
        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await db.pool.withConnection { _ in
                        #expect(!Thread.isMainThread)
                        return Thread.current.name ?? ""
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        for name in names { #expect(name.hasPrefix("caas-pg-pool-"), "ran on \(name)") }
        let inTransaction = try await db.pool.transaction { _ in Thread.current.name ?? "" }
        #expect(inTransaction.hasPrefix("caas-pg-pool-"))
    }

    @Test func exhaustedPoolTimesOutWithPoolTimeout() async throws {
        let db = try await TestPostgres.makeDatabase(label: "exhaust")
        let pool = db.makePool(maxConnections: 1, acquireTimeout: .milliseconds(200))
        defer { pool.shutdown() }
        let holder = Task { try await pool.withConnection { try $0.execute("SELECT pg_sleep(6)") } }
        try await waitUntil("the only connection to be busy") { pool.statistics.open == 1 && pool.statistics.idle == 0 }
        let started = Date()
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(error?.kind == .poolTimeout)
        // Well before the holder lets go: the wait ended on the acquire timeout, not on a free connection.
        #expect(Date().timeIntervalSince(started) < 5)
        _ = try await holder.value
        // Once free again, the pool serves callers.
        #expect(try await pool.withConnection { _ in 7 } == 7)
        #expect(pool.statistics.open == 1)
    }

    @Test func waitersAreServedWhenAConnectionFreesUp() async throws {
        let db = try await TestPostgres.makeDatabase(label: "waiters")
        let pool = db.makePool(maxConnections: 2, acquireTimeout: .seconds(10))
        defer { pool.shutdown() }
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 1...20 {
                group.addTask { try await pool.withConnection { try $0.query("SELECT $1::int AS v", [value])[0].decode("v", as: Int.self) } }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == 210)
        #expect(pool.statistics.open <= 2)
    }

    @Test func transactionRollsBackWhenTheBodyThrowsAndCommitsOtherwise() async throws {
        struct Boom: Error {}
        let db = try await TestPostgres.makeDatabase(label: "rollback")
        try await db.pool.withConnection { try $0.execute("CREATE TABLE items (n int)") }
        await #expect(throws: Boom.self) {
            try await db.pool.transaction { conn in
                try conn.execute("INSERT INTO items VALUES ($1)", [1])
                throw Boom()
            }
        }
        try await db.pool.transaction(isolation: .repeatableRead) { conn in
            try conn.execute("INSERT INTO items VALUES ($1)", [2])
        }
        let rows = try await db.pool.withConnection { try $0.query("SELECT n FROM items").map { try $0.decode("n", as: Int.self) } }
        #expect(rows == [2])
    }

    @Test func aServerErrorInsideATransactionRollsItBack() async throws {
        let db = try await TestPostgres.makeDatabase(label: "tx_error")
        try await db.pool.withConnection { try $0.execute("CREATE TABLE u (k text PRIMARY KEY)") }
        let error = await #expect(throws: PostgresError.self) {
            try await db.pool.transaction { conn in
                try conn.execute("INSERT INTO u VALUES ($1)", ["a"])
                try conn.execute("INSERT INTO u VALUES ($1)", ["a"])
            }
        }
        #expect(error?.sqlState == "23505")
        let count = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM u")[0].decode("n", as: Int.self) }
        #expect(count == 0)
    }

    @Test func aTransactionLeftOpenByWithConnectionIsRolledBack() async throws {
        let db = try await TestPostgres.makeDatabase(label: "left_open")
        let pool = db.makePool(maxConnections: 1)
        defer { pool.shutdown() }
        try await pool.withConnection { conn in
            try conn.execute("CREATE TABLE t (n int)")
            try conn.execute("BEGIN")
            try conn.execute("INSERT INTO t VALUES (1)")
        }
        let (count, status) = try await pool.withConnection { conn in
            (try conn.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self), conn.transactionStatus)
        }
        #expect(count == 0)
        #expect(status == .idle)
    }

    @Test func retryingReRunsASerializationFailure() async throws {
        let db = try await TestPostgres.makeDatabase(label: "serialization")
        try await db.pool.withConnection { conn in
            try conn.executeScript("""
                CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL);
                INSERT INTO doctors VALUES ('alice', true), ('bob', true);
                """)
        }
        let attempts = Shared(0)
        let barrier = Barrier(parties: 2)
        // Write skew: each takes a different doctor off call if someone else is still on call.
        @Sendable func goOffCall(_ name: String) async throws {
            try await db.pool.retrying(maxAttempts: 5) {
                try await db.pool.transaction(isolation: .serializable) { conn in
                    let attempt = attempts.withLock { $0 += 1; return $0 }
                    let onCall = try conn.query("SELECT count(*) AS n FROM doctors WHERE on_call")[0].decode("n", as: Int.self)
                    if attempt <= 2 { barrier.arrive() }
                    if onCall >= 2 {
                        try conn.execute("UPDATE doctors SET on_call = false WHERE name = $1", [name])
                    }
                }
            }
        }
        async let alice: Void = goOffCall("alice")
        async let bob: Void = goOffCall("bob")
        _ = try await (alice, bob)
        let onCall = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM doctors WHERE on_call")[0].decode("n", as: Int.self) }
        #expect(onCall == 1)
        #expect(attempts.current == 3)
    }

    @Test func serializationFailureSurfacesWithoutRetry() async throws {
        let db = try await TestPostgres.makeDatabase(label: "no_retry")
        try await db.pool.withConnection { try $0.executeScript("CREATE TABLE c (id int PRIMARY KEY, n int); INSERT INTO c VALUES (1, 0);") }
        let barrier = Barrier(parties: 2)
        @Sendable func bump() async throws {
            try await db.pool.transaction(isolation: .repeatableRead) { conn in
                _ = try conn.query("SELECT n FROM c WHERE id = 1")
                barrier.arrive()
                try conn.execute("UPDATE c SET n = n + 1 WHERE id = 1")
            }
        }
        async let first: Result<Void, Error> = { do { try await bump(); return .success(()) } catch { return .failure(error) } }()
        async let second: Result<Void, Error> = { do { try await bump(); return .success(()) } catch { return .failure(error) } }()
        let results = await [first, second]
        let failures = results.compactMap { result -> PostgresError? in
            if case .failure(let error) = result { return error as? PostgresError }
            return nil
        }
        #expect(failures.count == 1)
        #expect(failures.first?.isSerializationFailure == true)
        #expect(failures.first?.isTransient == true)
    }

    @Test func retryingReRunsTheVictimOfADeadlock() async throws {
        let db = try await TestPostgres.makeDatabase(label: "deadlock")
        try await db.pool.withConnection { try $0.executeScript("CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct VALUES (1, 100), (2, 100);") }
        let attempts = Shared(0)
        let deadlocks = Shared(0)
        let barrier = Barrier(parties: 2)
        @Sendable func transfer(from: Int, to: Int) async throws {
            try await db.pool.retrying(maxAttempts: 4) {
                do {
                    try await db.pool.transaction { conn in
                        let attempt = attempts.withLock { $0 += 1; return $0 }
                        try conn.setLocal("deadlock_timeout", "50ms")
                        try conn.execute("UPDATE acct SET balance = balance - 10 WHERE id = $1", [from])
                        if attempt <= 2 { barrier.arrive() }
                        try conn.execute("UPDATE acct SET balance = balance + 10 WHERE id = $1", [to])
                    }
                } catch let error as PostgresError where error.isDeadlock {
                    deadlocks.withLock { $0 += 1 }
                    throw error
                }
            }
        }
        async let a: Void = transfer(from: 1, to: 2)
        async let b: Void = transfer(from: 2, to: 1)
        _ = try await (a, b)
        // One of the two is chosen as the victim (rarely, a retry meets the other again).
        #expect(deadlocks.current >= 1)
        #expect(attempts.current == 2 + deadlocks.current)
        let balances = try await db.pool.withConnection { try $0.query("SELECT balance FROM acct ORDER BY id").map { try $0.decode("balance", as: Int.self) } }
        #expect(balances == [100, 100])
    }

    @Test func aTerminatedConnectionIsReplaced() async throws {
        let db = try await TestPostgres.makeDatabase(label: "replace")
        let pool = db.makePool(maxConnections: 1)
        defer { pool.shutdown() }
        let firstPID = try await pool.withConnection { $0.backendPID }
        try await db.pool.withConnection { conn in
            try conn.execute("SELECT pg_terminate_backend($1::int)", [Int(firstPID)])
        }
        try await waitUntil("the backend to exit") {
            try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1::int", [Int(firstPID)])[0].decode("n", as: Int.self) } == 0
        }
        // The idle connection is found dead before use and replaced: the caller sees no error.
        let secondPID = try await pool.withConnection { $0.backendPID }
        #expect(secondPID != firstPID)
        #expect(try await pool.withConnection { try $0.query("SELECT 1 AS one")[0].decode("one", as: Int.self) } == 1)
    }

    @Test func aConnectionBrokenMidJobIsDiscardedAndTheNextJobWorks() async throws {
        let db = try await TestPostgres.makeDatabase(label: "broken_mid_job")
        let pool = db.makePool(maxConnections: 1)
        defer { pool.shutdown() }
        let error = await #expect(throws: PostgresError.self) {
            try await pool.transaction { conn in
                try conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            }
        }
        #expect(error?.isConnectionFailure == true)
        #expect(try await pool.withConnection { try $0.query("SELECT 2 AS two")[0].decode("two", as: Int.self) } == 2)
    }

    @Test func cancellingTheCallerCancelsTheStatementAndRollsBack() async throws {
        let db = try await TestPostgres.makeDatabase(label: "cancel")
        let pool = db.makePool(maxConnections: 1)
        defer { pool.shutdown() }
        try await pool.withConnection { try $0.execute("CREATE TABLE t (n int)") }
        let task = Task {
            try await pool.transaction { conn in
                try conn.execute("INSERT INTO t VALUES (1)")
                try conn.execute("SELECT pg_sleep(10)")
            }
        }
        try await waitUntil("the sleep to start") {
            try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)'")[0].decode("n", as: Int.self) } == 1
        }
        let started = Date()
        task.cancel()
        let error = await #expect(throws: PostgresError.self) { try await task.value }
        #expect(error?.sqlState == "57014")
        #expect(Date().timeIntervalSince(started) < 5)
        let count = try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) }
        #expect(count == 0)
    }

    @Test func onConnectRunsForEveryNewConnection() async throws {
        let db = try await TestPostgres.makeDatabase(label: "on_connect")
        let pool = PostgresPool(configuration: .init(
            connection: PostgresConfiguration(url: db.url, sessionSettings: ["statement_timeout": "5s", "TimeZone": "UTC"]),
            maxConnections: 2,
            onConnect: { conn in try conn.setSession("application_name", "caas-hooked") }
        ))
        defer { pool.shutdown() }
        let (name, timeout) = try await pool.withConnection { conn in
            let row = try conn.query("SELECT current_setting('application_name') AS a, current_setting('statement_timeout') AS s")[0]
            return (try row.decode("a", as: String.self), try row.decode("s", as: String.self))
        }
        #expect(name == "caas-hooked")
        #expect(timeout == "5s")
    }

    @Test func aShutDownPoolRefusesWork() async throws {
        let db = try await TestPostgres.makeDatabase(label: "shutdown")
        let pool = db.makePool(maxConnections: 1)
        _ = try await pool.withConnection { _ in 1 }
        pool.shutdown()
        let error = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in 1 } }
        #expect(error?.kind == .shutdown)
    }

    @Test func connectionErrorsAreClear() async throws {
        let pool = PostgresPool(url: "postgresql://nobody@/nodb?host=/nonexistent-dir", maxConnections: 1)
        defer { pool.shutdown() }
        let error = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in 1 } }
        #expect(error?.kind == .connection)
        #expect(error?.message.contains("nodb") == true)
    }
}
