import Foundation

/// Wakes job loops when work may be waiting: PostgreSQL notifications on `caas_jobs` (any
/// replica's commit), or this process's own commits.
public protocol JobSignal: Sendable {
    /// Returns when a signal arrives, or after `timeout` seconds, or when the task is cancelled.
    func wait(timeout: TimeInterval) async
    /// Signals every waiter (e.g. after this process committed a job).
    func signal()
}

/// The in-process signal: a generation counter and the continuations waiting on it. A signal
/// that arrives between a loop's claim and its wait is not lost (the loop passes the generation
/// it last saw).
public final class LocalJobSignal: JobSignal, @unchecked Sendable {
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextID: UInt64 = 0

    public init() {}

    public func signal() {
        lock.lock()
        generation &+= 1
        let woken = waiters
        waiters = [:]
        lock.unlock()
        for (_, waiter) in woken { waiter.resume() }
    }

    public var currentGeneration: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return generation
    }

    public func wait(timeout: TimeInterval) async {
        await wait(after: currentGeneration, timeout: timeout)
    }

    /// Returns at once when a signal came after `seen`.
    public func wait(after seen: UInt64, timeout: TimeInterval) async {
        let id: UInt64 = lock.withLock {
            nextID &+= 1
            return nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                if generation != seen || Task.isCancelled {
                    lock.unlock()
                    continuation.resume()
                    return
                }
                waiters[id] = continuation
                lock.unlock()
                DispatchQueue.global().asyncAfter(deadline: .now() + max(0, timeout)) { [weak self] in
                    self?.resume(id)
                }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UInt64) {
        lock.lock()
        let waiter = waiters.removeValue(forKey: id)
        lock.unlock()
        waiter?.resume()
    }
}
