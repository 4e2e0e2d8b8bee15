import CLibPQ
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One `NOTIFY` received.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// Server process id of the session that sent it.
    public var senderPID: Int32
}

/// `LISTEN` on a dedicated connection and thread, delivering notifications through one
/// `AsyncStream` per `listen(_:)` call.
///
/// The thread waits on the connection's socket with `poll`, reads with `PQconsumeInput` and
/// takes notifications with `PQnotifies`. When the connection is lost it reconnects (with
/// backoff), LISTENs again on every channel, and sends ``Event/reconnected`` to every stream:
/// notifications sent while it was away are lost, so a consumer then catches up from its
/// tables (e.g. rescans queued jobs).
/// ```swift
/// let listener = PostgresListener(configuration: PostgresConfiguration(url: url))
/// for await event in try await listener.listen("jobs") {
///     switch event {
///     case .notification(let n): wake(n.payload)
///     case .reconnected: rescan()
///     }
/// }
/// ```
/// Send with `conn.notify(channel:payload:)` (`SELECT pg_notify($1, $2)`).
///
/// `@unchecked Sendable`: all mutable state is in `state` (a lock); the connection itself is
/// only touched by the listener thread.
public final class PostgresListener: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        case notification(PostgresNotification)
        /// The connection was lost and is back, LISTENing again: catch up on what was missed.
        case reconnected
    }

    private struct Subscriber {
        let channel: String
        let continuation: AsyncStream<Event>.Continuation
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        /// `listen` calls waiting for their channel to be LISTENed on the server.
        var confirmations: [(channel: String, continuation: CheckedContinuation<Void, Error>)] = []
        var started = false
        var stopped = false
        var connected = false
    }

    public let configuration: PostgresConfiguration
    private let logger: Logger
    private let state = Locked(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let bufferSize: Int
    private let maxReconnectDelay: Double

    /// - Parameters:
    ///   - bufferSize: notifications kept per stream for a slow consumer; older ones are dropped
    ///     beyond that (notifications are wake-ups: the tables hold the truth).
    ///   - maxReconnectDelay: upper bound (seconds) of the reconnect backoff.
    public init(configuration: PostgresConfiguration, bufferSize: Int = 10_000, maxReconnectDelay: Double = 2, logger: Logger = Logger(label: "caas.postgres.listener")) {
        self.configuration = configuration
        self.logger = logger
        self.bufferSize = bufferSize
        self.maxReconnectDelay = maxReconnectDelay
        var descriptors: [Int32] = [0, 0]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            }
        } else {
            descriptors = [-1, -1]
        }
        self.wakeRead = descriptors[0]
        self.wakeWrite = descriptors[1]
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Subscribes to `channel`; returns once the server LISTENs on it for us, so a `NOTIFY` sent
    /// after this returns is delivered. Ending the stream (dropping it or cancelling the task that
    /// iterates it) unsubscribes; the last subscriber of a channel UNLISTENs.
    public func listen(_ channel: String) async throws -> AsyncStream<Event> {
        guard wakeRead >= 0 else { throw PostgresError(kind: .connection, message: "cannot create the listener's wake-up pipe") }
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = try state.withLock { state -> UInt64 in
            if state.stopped { throw PostgresError(kind: .shutdown, message: "the PostgreSQL listener was shut down") }
            state.nextID += 1
            state.subscribers[state.nextID] = Subscriber(channel: channel, continuation: continuation)
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
            self.wake()
        }
        try await withCheckedThrowingContinuation { (confirmation: CheckedContinuation<Void, Error>) in
            let startThread = state.withLock { state -> Bool in
                state.confirmations.append((channel, confirmation))
                defer { state.started = true }
                return !state.started
            }
            if startThread {
                let thread = Thread { [self] in
                    ThreadName.setCurrent("caas-pg-listen")
                    self.run()
                }
                thread.stackSize = 512 * 1024
                thread.start()
            } else {
                wake()
            }
        }
        return stream
    }

    /// Stops the thread, closes the connection and finishes every stream.
    public func shutdown() {
        let (subscribers, confirmations) = state.withLock { state in
            state.stopped = true
            defer { state.subscribers = [:]; state.confirmations = [] }
            return (Array(state.subscribers.values), state.confirmations)
        }
        for subscriber in subscribers { subscriber.continuation.finish() }
        for confirmation in confirmations {
            confirmation.continuation.resume(throwing: PostgresError(kind: .shutdown, message: "the PostgreSQL listener was shut down"))
        }
        wake()
    }

    private func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    // MARK: The listener thread

    private func run() {
        var connection: PostgresConnection?
        var listening = Set<String>()
        var everConnected = false
        var delay = 0.05
        defer { connection?.close() }

        while !state.withLock({ $0.stopped }) {
            if connection == nil || connection!.isBroken {
                connection?.close()
                connection = nil
                listening = []
                state.withLock { $0.connected = false }
                do {
                    connection = try PostgresConnection.connect(configuration, logger: logger)
                    delay = 0.05
                } catch {
                    logger.warning("PostgreSQL listener cannot connect; retrying", metadata: ["error": .string("\(error)"), "delay_s": .stringConvertible(delay)])
                    waitForWakeup(seconds: delay)
                    delay = min(maxReconnectDelay, delay * 2)
                    continue
                }
            }
            guard let active = connection else { continue }

            // LISTEN / UNLISTEN so the server's set matches the subscribers'.
            let wanted = state.withLock { Set($0.subscribers.values.map(\.channel)) }
            do {
                for channel in wanted.subtracting(listening).sorted() {
                    try active.execute("LISTEN \(try active.escapeIdentifier(channel))")
                    listening.insert(channel)
                }
                for channel in listening.subtracting(wanted).sorted() {
                    try active.execute("UNLISTEN \(try active.escapeIdentifier(channel))")
                    listening.remove(channel)
                }
            } catch {
                logger.warning("PostgreSQL listener lost its connection while (UN)LISTENing", metadata: ["error": .string("\(error)")])
                if !active.isBroken { active.close() }
                continue
            }
            let wasConnected = state.withLock { state -> Bool in
                defer { state.connected = true }
                return state.connected
            }
            if !wasConnected {
                if everConnected {
                    logger.info("PostgreSQL listener reconnected", metadata: ["channels": .stringConvertible(listening.sorted())])
                    broadcast(.reconnected)
                }
                everConnected = true
            }
            confirmListening(listening)
            deliverNotifications(active)

            // Wait for the server or for a wake-up (subscribe, unsubscribe, shutdown).
            guard let handle = active.handle else { continue }
            var descriptors = [
                pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, 5000)
            if ready < 0 && errno != EINTR {
                logger.error("poll failed in the PostgreSQL listener", metadata: ["errno": .stringConvertible(errno)])
                waitForWakeup(seconds: 0.1)
                continue
            }
            if descriptors[1].revents != 0 { drainWakeups() }
            if descriptors[0].revents != 0 {
                if PQconsumeInput(handle) == 0 {
                    logger.warning("PostgreSQL listener connection lost", metadata: ["reason": .string(PostgresConnection.errorMessage(handle))])
                    deliverNotifications(active)
                    active.close()
                    continue
                }
                deliverNotifications(active)
            }
        }
        state.withLock { $0.connected = false }
    }

    /// Resumes the `listen` calls whose channel is now LISTENed.
    private func confirmListening(_ listening: Set<String>) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Error>] in
            var ready: [CheckedContinuation<Void, Error>] = []
            state.confirmations.removeAll { entry in
                guard listening.contains(entry.channel) else { return false }
                ready.append(entry.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    private func deliverNotifications(_ connection: PostgresConnection) {
        guard let handle = connection.handle else { return }
        while let raw = PQnotifies(handle) {
            let notification = PostgresNotification(
                channel: String(cString: raw.pointee.relname),
                payload: raw.pointee.extra.map { String(cString: $0) } ?? "",
                senderPID: raw.pointee.be_pid
            )
            PQfreemem(raw)
            let targets = state.withLock { state in
                state.subscribers.values.filter { $0.channel == notification.channel }.map(\.continuation)
            }
            for target in targets { target.yield(.notification(notification)) }
        }
    }

    private func broadcast(_ event: Event) {
        let targets = state.withLock { $0.subscribers.values.map(\.continuation) }
        for target in targets { target.yield(event) }
    }

    private func waitForWakeup(seconds: Double) {
        var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, Int32(seconds * 1000)) > 0 { drainWakeups() }
    }
}
