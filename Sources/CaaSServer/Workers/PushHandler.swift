import CaaSModel
import CaaSStore
import Foundation
import Logging

/// `push` jobs: the cluster's full desired state under its current generation, sent to its agent.
/// A failed send is retried with the queue's backoff. Fencing: the agent ignores a generation
/// older than the one it applied, and the recorded `pushed_generation` never moves back, so a
/// stale pusher (a slow replica, an expired lease) cannot undo a newer decision.
public struct PushHandler: JobHandler {
    public let store: Store
    public let agents: any ClusterAgentDirectory
    public let logger: Logger

    public init(store: Store, agents: any ClusterAgentDirectory, logger: Logger) {
        self.store = store
        self.agents = agents
        self.logger = logger
    }

    public var kind: JobKind { .push }

    public func handle(_ job: ClaimedJob) async throws -> JobResult {
        guard let clusterID = job.record.payloadString("cluster_id") else {
            throw PermanentJobFailure("push job without cluster_id")
        }
        let started = Date()
        guard let push = try await store.systemTransaction({ try $0.desiredState(clusterID: clusterID) }) else {
            return .finished // the cluster is gone
        }
        guard let channel = await agents.channel(for: clusterID) else { throw AgentUnreachable(clusterID: clusterID) }
        let ack = try await channel.push(push.state)
        let generation = push.state.generation
        try await store.systemTransaction { tx in
            try tx.fence(job)
            if ack.applied { try tx.recordPush(clusterID: clusterID, generation: generation) }
            if let due = push.nextDueAt {
                // Restart backoffs: push again when the next held container becomes due.
                try tx.enqueue(.push(clusterID: clusterID, tenantID: push.tenantID, runAfter: due))
            }
            try tx.complete(job)
        }
        logger.debug("pushed", metadata: [
            "cluster.id": .string(clusterID), "generation": "\(generation)", "ms": "\(Int(Date().timeIntervalSince(started) * 1000))",
            "containers": "\(push.state.nodes.reduce(0) { $0 + $1.containers.count })",
        ])
        if !ack.applied {
            logger.info("agent ignored a stale push", metadata: [
                "cluster.id": .string(clusterID), "generation": "\(generation)", "applied": "\(ack.appliedGeneration)",
            ])
        }
        return .completed
    }
}
