import CaaSPostgres
import CaaSStore
import Foundation
import Logging

/// The job loops' wake-up across replicas: `LISTEN caas_jobs` (the jobs table's trigger notifies
/// at every commit that queues a job), forwarded to a local signal. A reconnect also signals, so
/// loops rescan for what was queued while the listener was away.
public final class PostgresJobSignal: JobSignal, Sendable {
    public let local = LocalJobSignal()
    private let listener: PostgresListener
    private let forwarding = Mutex<Task<Void, Never>?>(nil)

    public init(listener: PostgresListener) {
        self.listener = listener
    }

    /// LISTENs (returns once the server listens for us) and forwards notifications until `stop()`.
    public func start() async throws {
        let stream = try await listener.listen(jobsChannel)
        let local = self.local
        let task = Task {
            for await _ in stream { local.signal() }
        }
        forwarding.withLock { $0 = task }
    }

    public func stop() {
        forwarding.withLock { $0?.cancel(); $0 = nil }
    }

    public func wait(timeout: TimeInterval) async { await local.wait(timeout: timeout) }
    public func signal() { local.signal() }
}
