import CaaSPlanner
import CaaSStore
import Foundation
import Logging

/// The loops only one replica runs at a time (under `Leadership`): the node monitor, the
/// rollout/deadline ticker with job retention, and the autoscaler. Each runs until cancelled.
public struct SingletonLoops: Sendable {
    public let store: Store
    public let settings: WorkerSettings
    public let signal: any JobSignal
    public let logger: Logger

    public init(store: Store, settings: WorkerSettings, signal: any JobSignal, logger: Logger) {
        self.store = store
        self.settings = settings
        self.signal = signal
        self.logger = logger
    }

    /// Runs the loops for `term`; each stops when cancelled or when a fenced write finds the term
    /// over (another replica leads now).
    public func run(term: LeadershipTerm) async {
        // Silence is counted from when this replica began watching, too: a control plane that
        // was down (or a new leader) has heard no heartbeats yet, and that is not the nodes' fault.
        let watchingSince = Date()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await every(settings.nodeMonitorInterval, "node monitor") { try await monitorNodes(watchingSince: watchingSince, term: term) } }
            group.addTask { await every(settings.tickerInterval, "ticker") { try await tick(term: term) } }
            group.addTask { await every(settings.autoscaleInterval, "autoscaler") { try await autoscale(term: term) } }
        }
    }

    func every(_ interval: TimeInterval, _ name: String, _ body: @Sendable () async throws -> Void) async {
        while !Task.isCancelled {
            do {
                try await body()
            } catch let lost as LeadershipLost {
                logger.warning("\(name) stops: \(lost)")
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("\(name) failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(nanoseconds: interval.nanoseconds)
        }
    }

    /// Nodes silent for `node_down_after` (counted from their last heartbeat, or from
    /// `watchingSince` when that is later) become `down`; their applications are reconciled
    /// (containers lost, replaced elsewhere).
    ///
    /// Every write here is fenced by `term` (nil only where a test calls a loop's step directly).
    public func monitorNodes(watchingSince: Date = .distantPast, term: LeadershipTerm? = nil) async throws {
        let seconds = settings.nodeDownAfter
        let unreachable = settings.nodeUnreachableAfter
        let down = try await store.systemTransaction {
            if let term { try $0.fence(term) }
            return try $0.markSilentNodesDown(after: seconds, unreachableAfter: unreachable, watchingSince: watchingSince)
        }
        if !down.isEmpty {
            signal.signal()
            logger.warning("nodes down", metadata: ["nodes": "\(down.map(\.name))"])
        }
    }

    /// Rollouts past their deadline are reconciled (the plan ends them); finished jobs pruned.
    public func tick(term: LeadershipTerm? = nil) async throws {
        let defaultContainers = settings.quotas.limits[.containers] ?? 0
        let overdue = try await store.systemTransaction {
            if let term { try $0.fence(term) }
            return try $0.reconcileOverdueDeployments() + $0.reconcileQuotaHeldSlots(defaultContainersQuota: defaultContainers)
        }
        if overdue > 0 { signal.signal() }
        let (keep, keepFailed) = (Int(settings.jobRetention), Int(settings.failedJobRetention))
        _ = try await store.systemTransaction {
            if let term { try $0.fence(term) }
            return try $0.pruneJobs(olderThan: keep, failedOlderThan: keepFailed)
        }
    }

    /// `Autoscaler.decide` on the CPU the agents reported; a change scales the service.
    public func autoscale(now: Date = Date(), term: LeadershipTerm? = nil) async throws {
        let window = settings.autoscaleSampleWindow
        let candidates = try await store.systemTransaction { try $0.autoscalingCandidates(sampleWindow: window) }
        for candidate in candidates {
            let decision = Autoscaler.decide(
                policy: candidate.policy, currentReplicas: candidate.desiredReplicas, cpuSamples: candidate.cpuSamples,
                lastScaledAt: candidate.lastScaledAt, cooldown: settings.autoscaleCooldown, now: now)
            guard decision.changed, decision.replicas != candidate.desiredReplicas else { continue }
            try await store.systemTransaction {
                if let term { try $0.fence(term) }
                try $0.autoscale(candidate, to: decision.replicas, reason: decision.reason)
            }
            signal.signal()
            logger.info("autoscaled", metadata: ["service.id": .string(candidate.serviceID), "reason": .string(decision.reason)])
        }
    }
}
