import CaaSPostgres
import CaaSStore
import Foundation
import Logging

/// Leadership for singleton loops: the holder of a session-level `pg_try_advisory_lock` on a
/// dedicated connection runs `body`; every other replica tries again every `retryInterval`.
///
/// PostgreSQL releases the lock when the holder's session ends, so when a replica dies (its
/// connection closes, or breaks) another takes over within `retryInterval`. A holder cut off
/// without a FIN (a half-open path) stops sending its checks: the server ends the lock session
/// after `idle_session_timeout` (a few check intervals) and sees a dead peer by its TCP
/// keepalives. The leader checks its own connection every `checkInterval`, gives up a check that
/// does not answer within `checkTimeout` (the socket is shut down under it), and stops `body` as
/// soon as the session is gone: it may no longer be the only one.
///
/// Each term has an epoch (`leadership_terms`), handed to `body`: the singletons' writes carry it
/// as a fencing token (`SystemTransaction.fence`), so a leader that does not know yet that it
/// lost its session (hung, cut off) cannot act once another replica began a term.
public final class Leadership: Sendable {
    public let name: String
    public let key: Int64
    let store: Store
    let holder: String
    let configuration: PostgresConfiguration
    let retryInterval: TimeInterval
    let checkInterval: TimeInterval
    /// How long the server keeps a silent lock session (`idle_session_timeout`): how soon another
    /// replica can take over from a leader cut off from the database.
    let sessionTimeout: TimeInterval
    let logger: Logger
    private let queue: DispatchQueue
    private let state = Mutex(LeaderState())

    struct LeaderState: Sendable {
        var isLeader = false
        var terms = 0
    }

    public init(name: String, store: Store, holder: String, configuration: PostgresConfiguration, retryInterval: TimeInterval = 1,
                checkInterval: TimeInterval = 1, sessionTimeout: TimeInterval? = nil, logger: Logger) {
        self.name = name
        self.key = Leadership.lockKey(name)
        self.store = store
        self.holder = holder
        let sessionTimeout = sessionTimeout ?? Leadership.defaultSessionTimeout(checkInterval: checkInterval)
        self.sessionTimeout = sessionTimeout
        self.configuration = Leadership.lockSession(configuration, sessionTimeout: sessionTimeout)
        self.retryInterval = retryInterval
        self.checkInterval = checkInterval
        self.logger = logger.with("leadership", name)
        self.queue = DispatchQueue(label: "caas-leadership-\(name)")
    }

    /// Whether this replica holds the lock right now.
    public var isLeader: Bool { state.withLock { $0.isLeader } }
    /// How many times this replica became leader.
    public var terms: Int { state.withLock { $0.terms } }

    /// A check that has not answered in this long is given up (the session is taken for lost).
    var checkTimeout: TimeInterval { max(3, checkInterval * 3) }

    /// Five check intervals, at least 10 s (a loaded replica may be late with a check or two).
    static func defaultSessionTimeout(checkInterval: TimeInterval) -> TimeInterval { max(10, checkInterval * 5) }

    /// The lock session's settings: the server ends it when its checks stop coming
    /// (`idle_session_timeout`, at least two check intervals), and probes its peer often (`tcp_keepalives_*`).
    static func lockSession(_ configuration: PostgresConfiguration, sessionTimeout: TimeInterval) -> PostgresConfiguration {
        var lock = configuration
        lock.sessionSettings["idle_session_timeout"] = "\(Int(sessionTimeout * 1000))ms"
        lock.sessionSettings["tcp_keepalives_idle"] = "5"
        lock.sessionSettings["tcp_keepalives_interval"] = "2"
        lock.sessionSettings["tcp_keepalives_count"] = "3"
        return lock
    }

    /// A stable 64-bit key for the lock (FNV-1a of `caas:` + name).
    static func lockKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("caas:" + name).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// Campaigns until cancelled; runs `body` with the term while leading. `body` must stop when
    /// cancelled, and should stop when a fenced write says the term is over.
    public func run(_ body: @escaping @Sendable (LeadershipTerm) async -> Void) async {
        while !Task.isCancelled {
            let box = ConnectionBox()
            do {
                let acquired = try await blocking { () -> Bool in
                    let connection = try PostgresConnection.connect(self.configuration, logger: self.logger)
                    box.connection = connection
                    let row = try connection.query("SELECT pg_try_advisory_lock($1) AS locked", [self.key])[0]
                    return try row.decode("locked", as: Bool.self)
                }
                if acquired {
                    let (name, holder) = (self.name, self.holder)
                    let term = try await store.systemTransaction { try $0.beginTerm(name, holder: holder) }
                    await lead(box, term, body)
                }
            } catch {
                if !Task.isCancelled {
                    logger.warning("leadership campaign failed", metadata: ["error": "\(error)"])
                }
            }
            // Ending the session releases the lock (if held) at once.
            await close(box)
            if Task.isCancelled { return }
            try? await Task.sleep(nanoseconds: retryInterval.nanoseconds)
        }
    }

    private func lead(_ box: ConnectionBox, _ term: LeadershipTerm, _ body: @escaping @Sendable (LeadershipTerm) async -> Void) async {
        state.withLock {
            $0.isLeader = true
            $0.terms += 1
        }
        logger.info("became leader", metadata: ["epoch": "\(term.epoch)"])
        let connection = try? await blocking { box.connection }
        defer {
            state.withLock { $0.isLeader = false }
            logger.info("leadership ended")
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await body(term) }
            group.addTask {
                // Watch the session: a broken connection means the lock may be gone.
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: self.checkInterval.nanoseconds)
                    if Task.isCancelled { return }
                    // A check the path swallows would hang for ever: past `checkTimeout` the
                    // socket is shut down under it, so it fails and the term ends.
                    let watchdog = Task {
                        try await Task.sleep(nanoseconds: self.checkTimeout.nanoseconds)
                        self.logger.warning("the leadership session does not answer; giving it up")
                        connection?.abort()
                    }
                    let alive = (try? await self.blocking { () -> Bool in
                        guard let connection = box.connection else { return false }
                        _ = try connection.query("SELECT 1")
                        return !connection.isBroken
                    }) ?? false
                    watchdog.cancel()
                    if !alive {
                        self.logger.warning("lost the leadership session")
                        return
                    }
                }
            }
            // Whichever ends first (body cancelled, session lost) ends the term.
            await group.next()
            group.cancelAll()
        }
    }

    private func close(_ box: ConnectionBox) async {
        _ = try? await blocking { box.connection?.close(); box.connection = nil }
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// The dedicated connection, touched only on the leadership queue.
private final class ConnectionBox: @unchecked Sendable {
    var connection: PostgresConnection?
}

/// A small lock around a value (Synchronization's Mutex needs a newer platform floor on macOS).
final class Mutex<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
