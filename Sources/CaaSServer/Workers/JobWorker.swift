import CaaSStore
import Foundation
import Logging

/// Runs jobs of one kind. Returns normally when the job is done: `.completed` when the handler
/// completed it inside its own (fenced) transaction, `.finished` for the worker to complete it.
public protocol JobHandler: Sendable {
    var kind: JobKind { get }
    /// The most due jobs one claim takes (1: one at a time).
    var batchLimit: Int { get }
    func handle(_ job: ClaimedJob) async throws -> JobResult
    /// Handles several claimed jobs together where it can; returns the jobs it left undone, which
    /// the worker then runs one by one through `handle(_:)`.
    func handle(batch: [ClaimedJob]) async -> [ClaimedJob]
}

extension JobHandler {
    public var batchLimit: Int { 1 }
    public func handle(batch: [ClaimedJob]) async -> [ClaimedJob] { batch }
}

public enum JobResult: Sendable, Equatable {
    case completed
    case finished
}

/// A handler's way to say "do not retry this".
public struct PermanentJobFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// `concurrency` loops that claim due jobs (one at a time, or up to the handler's batch limit),
/// run them under renewed leases, and record success or failure (with backoff). Between jobs a
/// loop sleeps until a notification, the next due job, or the safety interval, whichever is first.
public struct JobWorker: Sendable {
    public let queue: JobQueue
    public let handler: any JobHandler
    public let signal: any JobSignal
    public let concurrency: Int
    public let safetyWake: TimeInterval
    public let logger: Logger

    public init(queue: JobQueue, handler: any JobHandler, signal: any JobSignal, concurrency: Int, safetyWake: TimeInterval, logger: Logger) {
        self.queue = queue
        self.handler = handler
        self.signal = signal
        self.concurrency = max(1, concurrency)
        self.safetyWake = safetyWake
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency { group.addTask { await self.loop() } }
        }
    }

    func loop() async {
        var failures = 0
        let local = (signal as? LocalJobSignal) ?? (signal as? PostgresJobSignal)?.local
        while !Task.isCancelled {
            let seen = local?.currentGeneration
            do {
                let claimed = try await queue.claim(kinds: [handler.kind], limit: handler.batchLimit)
                failures = 0
                if claimed.count > 1 {
                    await run(batch: claimed)
                    continue
                }
                if let job = claimed.first {
                    await run(job)
                    continue
                }
                let due = try await queue.secondsUntilNextDue(kinds: [handler.kind])
                let timeout = min(due ?? safetyWake, safetyWake)
                if timeout <= 0 { continue }
                if let local, let seen {
                    await local.wait(after: seen, timeout: timeout)
                } else {
                    await signal.wait(timeout: timeout)
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.warning("job loop failed; backing off", metadata: ["kind": "\(handler.kind)", "error": "\(error)"])
                try? await Task.sleep(nanoseconds: min(5.0, 0.1 * pow(2, Double(min(failures, 6)))).nanoseconds)
            }
        }
    }

    /// Runs claimed jobs as a batch, then the ones the batch left one by one.
    func run(batch: [ClaimedJob]) async {
        let left: [ClaimedJob]
        do {
            let renewal = renewLeases(of: batch)
            defer { renewal.cancel() }
            left = await handler.handle(batch: batch)
        }
        for job in left { await run(job) }
    }

    /// Renews the leases of `jobs` every third of the lease until cancelled; a job whose lease
    /// was lost is no longer renewed.
    func renewLeases(of jobs: [ClaimedJob]) -> Task<Void, Never> {
        Task {
            var held = jobs
            while !Task.isCancelled && !held.isEmpty {
                try? await Task.sleep(nanoseconds: (queue.lease / 3).nanoseconds)
                if Task.isCancelled { return }
                var still: [ClaimedJob] = []
                for job in held where (try? await queue.extendLease(job)) != false { still.append(job) }
                held = still
            }
        }
    }

    /// Runs one claimed job with its lease renewed every third of the lease.
    func run(_ job: ClaimedJob) async {
        let logger = self.logger.with("job.id", String(job.id)).with("job.kind", job.kind.rawValue)
        let renewal = renewLeases(of: [job])
        defer { renewal.cancel() }
        do {
            let result = try await handler.handle(job)
            if result == .finished { try await queue.complete(job) }
        } catch is CancellationError {
            // This replica is stopping: the lease runs out and another replica takes the job.
            logger.info("job interrupted; its lease will expire")
        } catch let lost as JobLeaseLost {
            logger.warning("job lease lost; another worker has it", metadata: ["error": "\(lost)"])
        } catch {
            if Task.isCancelled { return }
            do {
                let state = try await queue.fail(job, error: "\(error)", permanent: error is PermanentJobFailure)
                let level: Logger.Level = state == .failed ? .error : .info
                logger.log(level: level, "job failed", metadata: ["error": "\(error)", "attempt": "\(job.attempt)", "state": "\(state.rawValue)"])
            } catch {
                logger.warning("could not record a job failure; its lease will expire", metadata: ["error": "\(error)"])
            }
        }
    }
}
