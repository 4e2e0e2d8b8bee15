import CaaSModel
import CaaSServer
import Foundation

/// Credentials → cluster by a fixed table: the bearer secret names the cluster (the in-process
/// agents of the scheduler's tests report with it).
public struct StaticAgentAuthenticator: AgentAuthenticator {
    public var clusters: [String: String]

    public init(clusters: [String: String]) { self.clusters = clusters }

    public func clusterID(for credentials: AgentCredentials) async throws -> String {
        guard let bearer = credentials.bearer, let cluster = clusters[bearer] else { throw AgentAPIError.unauthenticated }
        return cluster
    }
}

/// A directory of fixed channels: the pusher finds each test cluster's in-process agent here.
public final class StaticAgentDirectory: ClusterAgentDirectory, @unchecked Sendable {
    private let lock = NSLock()
    private var channels: [String: any ClusterAgentChannel] = [:]

    public init() {}

    public func register(_ channel: any ClusterAgentChannel, for clusterID: String) {
        lock.withLock { channels[clusterID] = channel }
    }

    public func remove(_ clusterID: String) {
        lock.withLock { _ = channels.removeValue(forKey: clusterID) }
    }

    public func channel(for clusterID: String) async -> (any ClusterAgentChannel)? {
        lock.withLock { channels[clusterID] }
    }
}
