import Foundation

/// Threads of our own for blocking socket work, so that no blocking call ever runs on Swift's
/// cooperative pool (a project rule). The pool grows when every thread is busy (a streamed
/// response can hold one for hours) and idle threads exit after `idleLifetime`.
///
/// `@unchecked Sendable`: all state is guarded by `condition`.
final class ClientBlockingExecutor: @unchecked Sendable {
    static let shared = ClientBlockingExecutor(name: "caas.http-client.io")

    private let name: String
    private let idleLifetime: TimeInterval
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var queueHead = 0
    private var idleThreads = 0
    private var wakeups = 0

    init(name: String, idleLifetime: TimeInterval = 30) {
        self.name = name
        self.idleLifetime = idleLifetime
    }

    func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(work)
        if idleThreads > 0 {
            idleThreads -= 1
            wakeups += 1
            condition.signal()
            condition.unlock()
        } else {
            condition.unlock()
            let thread = Thread { [self] in workerLoop() }
            thread.name = name
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    /// Runs `work` on one of the executor's threads and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    private func workerLoop() {
        condition.lock()
        while true {
            if queueHead < queue.count {
                let work = queue[queueHead]
                queueHead += 1
                if queueHead > 64 && queueHead * 2 > queue.count {
                    queue.removeFirst(queueHead)
                    queueHead = 0
                }
                condition.unlock()
                work()
                condition.lock()
                continue
            }
            idleThreads += 1
            let deadline = Date(timeIntervalSinceNow: idleLifetime)
            var woken = false
            while wakeups == 0 {
                if !condition.wait(until: deadline) { break }
            }
            if wakeups > 0 {
                wakeups -= 1   // the submitter already took us off the idle count
                woken = true
            }
            if !woken {
                idleThreads -= 1
                if queueHead >= queue.count {
                    condition.unlock()
                    return
                }
            }
        }
    }
}
