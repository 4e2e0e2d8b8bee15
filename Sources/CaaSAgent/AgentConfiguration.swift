/// How an agent runs; the defaults are production's, tests shorten the intervals.
public struct AgentConfiguration: Sendable {
    public var clusterId: String
    public var agentVersion: String
    /// Engine operations in flight per node at once.
    public var maxOperationsPerNode: Int
    /// Full reconciliation of every node (the safety net behind the event stream).
    public var reconcileInterval: Duration
    /// CPU and memory sampling of running containers.
    public var statsInterval: Duration
    public var heartbeatInterval: Duration
    /// How long observations wait for company before a report is sent.
    public var reportWindow: Duration
    /// First and longest wait between reconnections to an engine's event stream.
    public var reconnectBackoff: (first: Duration, longest: Duration)
    /// Where HTTP and TCP probes connect (containers use host networking on loopback).
    public var probeHost: String
    /// Silence from the control plane after which it is out of reach and dead containers are
    /// restarted on the node by their restart policy.
    public var outOfReachAfter: Duration = .seconds(5)
    /// The name server binary the nodes with caas networks run (`NameServerImage`); `nil`:
    /// `caas-dns` beside the agent's executable.
    public var nameServerBinary: String?
    /// Resolvers the name servers forward other names to; `nil`: those of the engine (the
    /// server container's resolv.conf); empty: none, other names are refused.
    public var nameServerUpstreams: [String]?
    /// How often the name servers' records are brought up to date (when they changed).
    public var namesInterval: Duration = .milliseconds(250)

    public init(
        clusterId: String,
        agentVersion: String = "0.1.0",
        maxOperationsPerNode: Int = 4,
        reconcileInterval: Duration = .seconds(10),
        statsInterval: Duration = .seconds(10),
        heartbeatInterval: Duration = .seconds(1),
        reportWindow: Duration = .milliseconds(50),
        reconnectBackoff: (first: Duration, longest: Duration) = (.milliseconds(100), .seconds(2)),
        probeHost: String = "127.0.0.1"
    ) {
        self.clusterId = clusterId
        self.agentVersion = agentVersion
        self.maxOperationsPerNode = max(1, maxOperationsPerNode)
        self.reconcileInterval = reconcileInterval
        self.statsInterval = statsInterval
        self.heartbeatInterval = heartbeatInterval
        self.reportWindow = reportWindow
        self.reconnectBackoff = reconnectBackoff
        self.probeHost = probeHost
    }
}

/// A node the agent drives: its id in the control plane and its engine's endpoint.
public struct AgentNode: Sendable, Equatable {
    public var nodeId: String
    public var endpoint: EngineEndpoint

    public init(nodeId: String, endpoint: EngineEndpoint) {
        self.nodeId = nodeId
        self.endpoint = endpoint
    }
}
