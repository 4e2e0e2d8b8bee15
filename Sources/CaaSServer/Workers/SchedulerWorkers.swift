import CaaSPostgres
import CaaSStore
import Foundation
import Logging

/// Everything asynchronous of one caas-server replica: reconcile and push job loops (any number
/// of replicas run them; jobs are claimed with SKIP LOCKED) and the singleton loops (one replica
/// at a time, under an advisory lock). `caas-server` makes one and runs `run()` next to the API;
/// cancelling the task stops it (claimed jobs' leases then expire and other replicas take them).
public struct SchedulerWorkers: Sendable {
    public let store: Store
    public let settings: WorkerSettings
    public let signal: any JobSignal
    public let reconciler: ReconcileHandler
    public let pusher: PushHandler
    public let singletons: SingletonLoops
    public let leadership: Leadership
    public let logger: Logger

    /// `secretsKey`: the key application secrets are sealed with (the control plane's), with which
    /// the pusher opens them for the agents.
    public init(store: Store, database: PostgresConfiguration, agents: any ClusterAgentDirectory, secretsKey: [UInt8],
                settings: WorkerSettings = WorkerSettings(), signal: any JobSignal = LocalJobSignal(), logger: Logger) {
        let logger = logger.with("replica", settings.replicaID)
        self.store = store
        self.settings = settings
        self.signal = signal
        self.logger = logger
        var reconciler = ReconcileHandler(store: store, options: settings.planner, maxConflictRetries: settings.maxConflictRetries,
                                          batchLimit: settings.reconcileBatch, signal: signal, quotas: settings.quotas, logger: logger)
        reconciler.beforeApply = settings.beforeApply
        self.reconciler = reconciler
        pusher = PushHandler(store: store, agents: agents, secretsKey: secretsKey, logger: logger)
        singletons = SingletonLoops(store: store, settings: settings, signal: signal, logger: logger)
        leadership = Leadership(name: "singletons", store: store, holder: settings.replicaID, configuration: database, retryInterval: settings.leaderRetryInterval,
                                checkInterval: settings.leaderCheckInterval, sessionTimeout: settings.leaderSessionTimeout, logger: logger)
    }

    public var queue: JobQueue { JobQueue(store: store, workerID: settings.replicaID, lease: settings.jobLease) }

    public func worker(for handler: any JobHandler, concurrency: Int) -> JobWorker {
        JobWorker(queue: queue, handler: handler, signal: signal, concurrency: concurrency, safetyWake: settings.safetyWake, logger: logger)
    }

    /// Runs until cancelled.
    public func run() async {
        logger.info("scheduler workers starting")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await worker(for: reconciler, concurrency: settings.reconcileConcurrency).run() }
            group.addTask { await worker(for: pusher, concurrency: settings.pushConcurrency).run() }
            group.addTask { await leadership.run { term in await singletons.run(term: term) } }
        }
        logger.info("scheduler workers stopped")
    }
}
