import Foundation
import Logging

/// A bounded pool of PostgreSQL connections, each with a dedicated OS thread.
///
/// Your body runs synchronously on the connection's own thread — never on Swift's cooperative
/// pool — and the caller is resumed through a continuation:
/// ```swift
/// let names = try await pool.withConnection { conn in
///     try conn.query("SELECT name FROM apps WHERE tenant_id = $1", [tenant]).map { try $0.decode("name", as: String.self) }
/// }
/// try await pool.transaction(isolation: .serializable) { conn in
///     try conn.setLocal("caas.tenant_id", tenant)
///     try conn.execute("UPDATE apps SET generation = generation + 1 WHERE id = $1", [appID])
/// }
/// ```
/// Connections are opened lazily, up to `maxConnections`. A caller that finds all of them busy
/// waits up to `acquireTimeout`, then gets `PostgresError(kind: .poolTimeout)`. A connection that
/// broke is closed and a new one opened for the next job.
public final class PostgresPool: Sendable {
    public struct Configuration: Sendable {
        public var connection: PostgresConfiguration
        public var maxConnections: Int
        /// How long `withConnection`/`transaction` wait for a free connection.
        public var acquireTimeout: Duration
        /// Runs on every new connection before its first use (session settings, prepared state).
        public var onConnect: (@Sendable (PostgresConnection) throws -> Void)?
        /// Prefix of the worker threads' names (`<name>-<n>`; Linux keeps 15 bytes of a name).
        public var name: String

        public init(
            connection: PostgresConfiguration,
            maxConnections: Int = 10,
            acquireTimeout: Duration = .seconds(10),
            name: String = "caas-pg-pool",
            onConnect: (@Sendable (PostgresConnection) throws -> Void)? = nil
        ) {
            self.connection = connection
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.name = name
            self.onConnect = onConnect
        }
    }

    public typealias IsolationLevel = PostgresConnection.IsolationLevel

    public let configuration: Configuration
    let logger: Logger
    private let state = Locked(PoolState())

    public init(configuration: Configuration, logger: Logger = Logger(label: "caas.postgres.pool")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A pool dropped without `shutdown()` still closes its idle connections and threads.
    deinit { shutdown() }

    public convenience init(url: String, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10), logger: Logger = Logger(label: "caas.postgres.pool")) {
        self.init(configuration: Configuration(connection: PostgresConfiguration(url: url), maxConnections: maxConnections, acquireTimeout: acquireTimeout), logger: logger)
    }

    // MARK: Public API

    /// Runs `body` with a connection on the connection's thread.
    ///
    /// A transaction the body leaves open is rolled back (and logged). If the calling task is
    /// cancelled, the running statement is cancelled on the server (`PQcancel`).
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await run { connection, _ in try body(connection) }
    }

    /// Runs `body` in a transaction: `COMMIT` when it returns, `ROLLBACK` when it throws, when
    /// the calling task is cancelled, or when the connection breaks.
    @discardableResult
    public func transaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted,
        readOnly: Bool = false,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await run { connection, job in
            try connection.transaction(isolation: isolation, readOnly: readOnly) { connection in
                let value = try body(connection)
                if job.isCancelled { throw CancellationError() }
                return value
            }
        }
    }

    /// A transaction that is run again (whole) on serialization failures and deadlocks.
    @discardableResult
    public func retryingTransaction<T: Sendable>(
        isolation: IsolationLevel = .serializable,
        readOnly: Bool = false,
        maxAttempts: Int = 5,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await PostgresRetry.retrying(maxAttempts: maxAttempts, logger: logger) {
            try await self.transaction(isolation: isolation, readOnly: readOnly, body)
        }
    }

    /// Runs `body` again on `40001` (serialization failure) and `40P01` (deadlock), up to
    /// `maxAttempts` times in all, sleeping a jittered, growing backoff between attempts. The
    /// body must be a whole transaction (e.g. a call to ``transaction(isolation:readOnly:_:)``).
    public func retrying<T>(
        maxAttempts: Int = 5,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        try await PostgresRetry.retrying(maxAttempts: maxAttempts, logger: logger, isolation: isolation, body)
    }

    /// `pg_notify(channel, payload)` on a pooled connection.
    public func notify(channel: String, payload: String = "") async throws {
        try await withConnection { try $0.notify(channel: channel, payload: payload) }
    }

    public struct Statistics: Sendable, Equatable {
        public var open: Int
        public var idle: Int
        public var waiting: Int
    }

    public var statistics: Statistics {
        state.withLock { Statistics(open: $0.slotCount, idle: $0.idle.count, waiting: $0.waiters.count) }
    }

    /// Closes idle connections, fails waiting callers and refuses new work; busy connections
    /// close when their job ends.
    public func shutdown() {
        let (idle, waiters) = state.withLock { state -> ([Slot], [Waiter]) in
            state.isShutdown = true
            defer { state.idle = []; state.waiters = [] }
            return (state.idle, state.waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(kind: .shutdown, message: "the PostgreSQL pool was shut down"))
        }
        for slot in idle { slot.retire() }
    }

    // MARK: Jobs

    /// What a running job can ask about itself.
    final class JobContext: Sendable {
        private let cancelled = Locked(false)
        var isCancelled: Bool { cancelled.withLock { $0 } }
        func markCancelled() { cancelled.withLock { $0 = true } }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, JobContext) throws -> T) async throws -> T {
        let slot = try await acquire()
        let job = JobContext()
        do {
            let value = try await withTaskCancellationHandler {
                try await slot.worker.run {
                    try slot.perform(configuration: self.configuration, logger: self.logger, job: job) { connection in
                        try body(connection, job)
                    }
                }
            } onCancel: {
                job.markCancelled()
                // PQcancel blocks briefly on a socket: not on the thread that cancels us.
                DispatchQueue.global().async { slot.cancelRunningStatement(of: job) }
            }
            release(slot)
            return value
        } catch {
            release(slot)
            throw error
        }
    }

    // MARK: Acquire / release

    private func acquire() async throws -> Slot {
        try Task.checkCancellation()
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Slot, Error>) in
                enum Decision { case use(Slot), create(Int), wait, fail(Error) }
                let decision = state.withLock { state -> Decision in
                    if state.isShutdown {
                        return .fail(PostgresError(kind: .shutdown, message: "the PostgreSQL pool was shut down"))
                    }
                    if let slot = state.idle.popLast() { return .use(slot) }
                    if state.slotCount < configuration.maxConnections {
                        state.slotCount += 1
                        state.createdSlots += 1
                        return .create(state.createdSlots)
                    }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .wait
                }
                switch decision {
                case .use(let slot):
                    continuation.resume(returning: slot)
                case .create(let number):
                    continuation.resume(returning: Slot(worker: WorkerThread(name: "\(configuration.name)-\(number)")))
                case .fail(let error):
                    continuation.resume(throwing: error)
                case .wait:
                    scheduleTimeout(for: id)
                }
            }
        } onCancel: {
            if let waiter = removeWaiter(id) { waiter.continuation.resume(throwing: CancellationError()) }
        }
    }

    private func scheduleTimeout(for id: UInt64) {
        let timeout = configuration.acquireTimeout
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard let waiter = removeWaiter(id) else { return }
            let size = configuration.maxConnections
            waiter.continuation.resume(throwing: PostgresError(
                kind: .poolTimeout,
                message: "no PostgreSQL connection became free within \(timeout) (all \(size) connections of the pool are in use)"
            ))
        }
    }

    private func removeWaiter(_ id: UInt64) -> Waiter? {
        state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
    }

    private func release(_ slot: Slot) {
        enum Decision { case handOver(Waiter), keep, retire }
        let decision = state.withLock { state -> Decision in
            if state.isShutdown {
                state.slotCount -= 1
                return .retire
            }
            if !state.waiters.isEmpty { return .handOver(state.waiters.removeFirst()) }
            state.idle.append(slot)
            return .keep
        }
        switch decision {
        case .handOver(let waiter): waiter.continuation.resume(returning: slot)
        case .keep: break
        case .retire: slot.retire()
        }
    }

    struct Waiter: Sendable {
        let id: UInt64
        let continuation: CheckedContinuation<Slot, Error>
    }

    struct PoolState: Sendable {
        var idle: [Slot] = []
        var waiters: [Waiter] = []
        var slotCount = 0
        var createdSlots = 0
        var nextWaiterID: UInt64 = 0
        var isShutdown = false
    }
}

/// One place in the pool: a worker thread and (while healthy) its connection.
///
/// `@unchecked Sendable`: `connection` is read and written only by jobs on `worker`'s thread;
/// `running` (the connection and job running right now, for cancellation) is guarded by `lock`.
final class Slot: @unchecked Sendable {
    let worker: WorkerThread
    private var connection: PostgresConnection?
    private let lock = NSLock()
    private var running: (connection: PostgresConnection, job: PostgresPool.JobContext)?

    init(worker: WorkerThread) { self.worker = worker }

    /// On the worker thread: (re)connects if needed, runs the body, and afterwards makes sure the
    /// connection is idle — or closes it so the next job opens a fresh one.
    func perform<T>(configuration: PostgresPool.Configuration, logger: Logger, job: PostgresPool.JobContext, _ body: (PostgresConnection) throws -> T) throws -> T {
        if let current = connection, !current.isAliveWhileIdle() {
            logger.info("replacing a broken PostgreSQL connection", metadata: ["thread": .string(worker.name)])
            current.close()
            connection = nil
        }
        let active: PostgresConnection
        if let current = connection {
            active = current
        } else {
            let fresh = try PostgresConnection.connect(configuration.connection, logger: logger)
            do {
                try configuration.onConnect?(fresh)
            } catch {
                fresh.close()
                throw error
            }
            connection = fresh
            active = fresh
        }
        lock.withLock { running = (active, job) }
        defer {
            lock.withLock { running = nil }
            if active.isBroken {
                active.close()
                connection = nil
            } else if active.transactionStatus != .idle {
                logger.warning("a job left a transaction open; rolling it back", metadata: ["thread": .string(worker.name)])
                active.rollbackOrClose()
                if active.isBroken || active.transactionStatus != .idle {
                    active.close()
                    connection = nil
                }
            }
        }
        return try body(active)
    }

    /// Cancels the statement of `job` if that job is still the one running (never a later one).
    func cancelRunningStatement(of job: PostgresPool.JobContext) {
        lock.withLock {
            guard let running, running.job === job else { return }
            running.connection.cancel()
        }
    }

    /// Closes the connection on its thread and ends the thread.
    func retire() {
        worker.submit { [self] in
            connection?.close()
            connection = nil
        }
        worker.stop()
    }
}
