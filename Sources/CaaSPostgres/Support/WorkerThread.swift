import Foundation

/// A dedicated OS thread that runs submitted jobs one after another.
///
/// Blocking libpq calls run here, never on the threads of Swift's cooperative pool. Each pooled
/// connection owns one worker, so a connection is only ever used by its own thread.
///
/// `@unchecked Sendable`: the job queue and the `stopped` flag are only touched with
/// `condition` locked; the `Thread` is created once in `init` and never mutated.
final class WorkerThread: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var head = 0
    private var stopped = false
    let name: String

    init(name: String) {
        self.name = name
        let thread = Thread { [self] in self.runLoop() }
        // libpq and our decoding need little stack; 512 KiB keeps many workers cheap.
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Queues a job. Returns false (and drops the job) when the worker was stopped.
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Lets the queued jobs finish, then ends the thread.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        ThreadName.setCurrent(name)
        while true {
            condition.lock()
            while head == jobs.count && !stopped { condition.wait() }
            if head == jobs.count && stopped {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on this worker and resumes the caller with its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = submit {
                continuation.resume(with: Result { try body() })
            }
            if !accepted {
                continuation.resume(throwing: PostgresError(kind: .shutdown, message: "worker thread \(name) was stopped"))
            }
        }
    }
}
