import CaaSPostgres
import Foundation
import Logging

/// Leadership for singleton loops: the holder of a session-level `pg_try_advisory_lock` on a
/// dedicated connection runs `body`; every other replica tries again every `retryInterval`.
///
/// PostgreSQL releases the lock when the holder's session ends, so when a replica dies (its
/// connection closes, or breaks) another takes over within `retryInterval` (plus the time the
/// server needs to notice a dead TCP peer). The leader checks its own connection every
/// `checkInterval` and stops `body` as soon as it is broken: it may no longer be the only one.
public final class Leadership: Sendable {
    public let name: String
    public let key: Int64
    let configuration: PostgresConfiguration
    let retryInterval: TimeInterval
    let checkInterval: TimeInterval
    let logger: Logger
    private let queue: DispatchQueue
    private let state = Mutex(LeaderState())

    struct LeaderState: Sendable {
        var isLeader = false
        var terms = 0
    }

    public init(name: String, configuration: PostgresConfiguration, retryInterval: TimeInterval = 1, checkInterval: TimeInterval = 1, logger: Logger) {
        self.name = name
        self.key = Leadership.lockKey(name)
        self.configuration = configuration
        self.retryInterval = retryInterval
        self.checkInterval = checkInterval
        self.logger = logger.with("leadership", name)
        self.queue = DispatchQueue(label: "caas-leadership-\(name)")
    }

    /// Whether this replica holds the lock right now.
    public var isLeader: Bool { state.withLock { $0.isLeader } }
    /// How many times this replica became leader.
    public var terms: Int { state.withLock { $0.terms } }

    /// A stable 64-bit key for the lock (FNV-1a of `caas:` + name).
    static func lockKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("caas:" + name).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// Campaigns until cancelled; runs `body` while leading. `body` must stop when cancelled.
    public func run(_ body: @escaping @Sendable () async -> Void) async {
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
                    await lead(box, body)
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

    private func lead(_ box: ConnectionBox, _ body: @escaping @Sendable () async -> Void) async {
        state.withLock {
            $0.isLeader = true
            $0.terms += 1
        }
        logger.info("became leader")
        defer {
            state.withLock { $0.isLeader = false }
            logger.info("leadership ended")
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await body() }
            group.addTask {
                // Watch the session: a broken connection means the lock may be gone.
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: self.checkInterval.nanoseconds)
                    if Task.isCancelled { return }
                    let alive = (try? await self.blocking { () -> Bool in
                        guard let connection = box.connection else { return false }
                        _ = try connection.query("SELECT 1")
                        return !connection.isBroken
                    }) ?? false
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
