import CaaSModel
import Foundation

/// What an agent answers to a push.
public struct PushAcknowledgement: Sendable, Equatable {
    /// Whether the agent applied this state (false: it had applied a newer generation already).
    public var applied: Bool
    /// The generation the agent has applied now.
    public var appliedGeneration: Int64
    public var detail: String?

    public init(applied: Bool, appliedGeneration: Int64, detail: String? = nil) {
        self.applied = applied
        self.appliedGeneration = appliedGeneration
        self.detail = detail
    }
}

/// The way to one cluster's agent. The real one is an mTLS HTTPS client (joining, certificates:
/// another piece of work); tests use an in-process agent.
public protocol ClusterAgentChannel: Sendable {
    func push(_ state: DesiredClusterState) async throws -> PushAcknowledgement
}

/// Finds the channel of a cluster; nil while its agent is not reachable (the push retries).
public protocol ClusterAgentDirectory: Sendable {
    func channel(for clusterID: String) async -> (any ClusterAgentChannel)?
}

public struct AgentUnreachable: Error, Sendable, CustomStringConvertible {
    public var clusterID: String
    public var description: String { "no agent channel for cluster \(clusterID)" }
}
