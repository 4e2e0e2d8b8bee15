import Foundation

/// A batch of observations an agent sends to the control plane, on change and at full
/// reconciliations. Observed state is written by agents only.
public struct AgentReport: Codable, Sendable, Equatable {
    public var clusterId: String
    /// Increases with every report an agent process sends; lets the receiver drop reordered batches.
    public var sequence: Int64
    /// The desired-state generation the agent had applied when it made this report.
    public var appliedGeneration: Int64
    public var sentAt: Date
    public var containers: [ContainerObservation]
    public var nodes: [NodeObservation]
    /// Whether `containers` lists every container the agent manages (a full reconciliation);
    /// a container missing from a full report is gone.
    public var isFull: Bool

    public init(clusterId: String, sequence: Int64, appliedGeneration: Int64, sentAt: Date, containers: [ContainerObservation], nodes: [NodeObservation], isFull: Bool = false) {
        self.clusterId = clusterId
        self.sequence = sequence
        self.appliedGeneration = appliedGeneration
        self.sentAt = sentAt
        self.containers = containers
        self.nodes = nodes
        self.isFull = isFull
    }
}

/// What the agent saw of one container at `observedAt`.
public struct ContainerObservation: Codable, Sendable, Equatable {
    public var containerId: String
    public var nodeId: String
    public var state: ObservedContainerState
    public var exitCode: Int?
    public var oomKilled: Bool
    public var health: HealthStatus
    /// Restarts the engine did by itself (zero with caas: restart is the control plane's).
    public var restartCount: Int
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The engine's 64-hex id; `nil` before creation and after removal.
    public var engineContainerId: String?
    /// Percent of one core (200 = two cores busy); `nil` until two samples exist.
    public var cpuPercent: Double?
    public var memoryBytes: Int64?
    public var memoryLimitBytes: Int64?
    /// A reason when something went wrong ("image not found", "probe: connection refused").
    public var message: String?
    /// Where the container serves, `host:port` (`127.0.0.1:20345`, `[::1]:8080`): the agent's
    /// loopback host and the port the container serves on (its `PORT`: the spec's own, else the one
    /// the agent gave it, also `CAAS_PORT`) or publishes. `nil` when it has none (network `none`)
    /// or the observation does not say (a removal, a failure before creation, an agent older than
    /// this field).
    public var address: String?
    /// The published port mappings as the agent applied them (empty: none); `nil` when the
    /// observation does not say.
    public var ports: [DesiredPort]?
    public var observedAt: Date

    public init(
        containerId: String,
        nodeId: String,
        state: ObservedContainerState,
        exitCode: Int? = nil,
        oomKilled: Bool = false,
        health: HealthStatus = .unknown,
        restartCount: Int = 0,
        startedAt: Date? = nil,
        finishedAt: Date? = nil,
        engineContainerId: String? = nil,
        cpuPercent: Double? = nil,
        memoryBytes: Int64? = nil,
        memoryLimitBytes: Int64? = nil,
        message: String? = nil,
        address: String? = nil,
        ports: [DesiredPort]? = nil,
        observedAt: Date
    ) {
        self.containerId = containerId
        self.nodeId = nodeId
        self.state = state
        self.exitCode = exitCode
        self.oomKilled = oomKilled
        self.health = health
        self.restartCount = restartCount
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.engineContainerId = engineContainerId
        self.cpuPercent = cpuPercent
        self.memoryBytes = memoryBytes
        self.memoryLimitBytes = memoryLimitBytes
        self.message = message
        self.address = address
        self.ports = ports
        self.observedAt = observedAt
    }
}

/// What the agent knows of one node's engine.
public struct NodeObservation: Codable, Sendable, Equatable {
    public var nodeId: String
    public var engineReachable: Bool
    public var engineVersion: String?
    public var apiVersion: String?
    public var cpus: Int?
    public var memoryBytes: Int64?
    /// Why the engine is unreachable, when it is.
    public var error: String?
    public var observedAt: Date

    public init(nodeId: String, engineReachable: Bool, engineVersion: String? = nil, apiVersion: String? = nil, cpus: Int? = nil, memoryBytes: Int64? = nil, error: String? = nil, observedAt: Date) {
        self.nodeId = nodeId
        self.engineReachable = engineReachable
        self.engineVersion = engineVersion
        self.apiVersion = apiVersion
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.error = error
        self.observedAt = observedAt
    }
}

/// Sent every second (by default): the agent is alive, and each node's engine reachability.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var clusterId: String
    public var agentVersion: String
    public var appliedGeneration: Int64
    public var sentAt: Date
    public var nodes: [NodeObservation]

    public init(clusterId: String, agentVersion: String, appliedGeneration: Int64, sentAt: Date, nodes: [NodeObservation]) {
        self.clusterId = clusterId
        self.agentVersion = agentVersion
        self.appliedGeneration = appliedGeneration
        self.sentAt = sentAt
        self.nodes = nodes
    }
}
