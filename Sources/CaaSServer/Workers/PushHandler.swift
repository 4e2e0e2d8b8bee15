import CaaSModel
import CaaSStore
import Foundation
import Logging

/// `push` jobs: the cluster's full desired state under its current generation, sent to its agent.
/// A failed send is retried with the queue's backoff. Fencing: the agent ignores a generation
/// older than the one it applied, and the recorded `pushed_generation` never moves back, so a
/// stale pusher (a slow replica, an expired lease) cannot undo a newer decision.
///
/// Sealed environment values are opened here, with `secretsKey`, just before the send: the mTLS
/// channel to the agent is the only place their plain values travel. A value that does not open
/// stops the push (nothing on the nodes changes) and is logged naming its application and variable.
public struct PushHandler: JobHandler {
    public let store: Store
    public let agents: any ClusterAgentDirectory
    let secretsKey: [UInt8]
    public let logger: Logger

    public init(store: Store, agents: any ClusterAgentDirectory, secretsKey: [UInt8], logger: Logger) {
        self.store = store
        self.agents = agents
        self.secretsKey = secretsKey
        self.logger = logger
    }

    public var kind: JobKind { .push }

    public func handle(_ job: ClaimedJob) async throws -> JobResult {
        guard let clusterID = job.record.payloadString("cluster_id") else {
            throw PermanentJobFailure("push job without cluster_id")
        }
        // A big cluster under a stream of changes is pushed in batches: pushes are spaced by twice
        // the last one's duration (a queued push absorbs the changes meanwhile).
        let spacing = try await store.systemTransaction { try $0.pushSpacing(clusterID: clusterID) }
        if spacing > 0.001 {
            try await store.systemTransaction { tx in _ = try tx.reschedule(job, after: spacing) }
            return .completed
        }
        let started = Date()
        guard let push = try await store.systemTransaction({ try $0.desiredState(clusterID: clusterID) }) else {
            return .finished // the cluster is gone
        }
        let state: DesiredClusterState
        do {
            state = try ApplicationSecrets.opened(push.state, key: secretsKey)
        } catch {
            logger.error("push not sent: a sealed value does not open", metadata: ["cluster.id": .string(clusterID), "error": "\(error)"])
            throw error
        }
        guard let channel = await agents.channel(for: clusterID) else { throw AgentUnreachable(clusterID: clusterID) }
        let ack = try await channel.push(state)
        let generation = push.state.generation
        try await store.systemTransaction { tx in
            try tx.fence(job)
            let milliseconds = Int(Date().timeIntervalSince(started) * 1000)
            if ack.applied {
                try tx.recordPush(clusterID: clusterID, generation: generation, milliseconds: milliseconds)
                try tx.forgetVolumeRemovals(clusterID: clusterID, applicationIDs: push.settledVolumeRemovals)
            }
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
