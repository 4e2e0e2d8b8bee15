import CaaSModel
import Foundation

/// Everything the planner reads: one immutable view of one cluster and one application's services and containers.
///
/// The reconciler worker builds it from a single read of the store; the planner never looks anywhere else.
public struct ClusterSnapshot: Sendable, Equatable {
    public var nodes: [NodeSnapshot]
    public var services: [ServiceSnapshot]
    /// The containers of `services` that still exist (any desired state; rows deleted after removal are absent).
    public var containers: [ContainerSnapshot]

    public init(nodes: [NodeSnapshot], services: [ServiceSnapshot], containers: [ContainerSnapshot]) {
        self.nodes = nodes
        self.services = services
        self.containers = containers
    }
}

/// A node as the planner sees it.
public struct NodeSnapshot: Sendable, Equatable {
    public var id: String
    public var name: String
    public var labels: [String: String]
    public var status: NodeStatus
    public var capacity: NodeCapacity
    /// What containers *not listed in the snapshot* (other applications) already hold on this node.
    /// The planner adds the snapshot's own containers itself.
    public var otherUsage: NodeUsage

    public init(id: String, name: String, labels: [String: String] = [:], status: NodeStatus = .ready, capacity: NodeCapacity, otherUsage: NodeUsage = NodeUsage()) {
        self.id = id
        self.name = name
        self.labels = labels
        self.status = status
        self.capacity = capacity
        self.otherUsage = otherUsage
    }
}

/// Schedulable capacity of a node: CPU in cores, memory in bytes.
public struct NodeCapacity: Sendable, Equatable {
    public var cpus: Double
    public var memoryBytes: Int64

    public init(cpus: Double, memoryBytes: Int64) {
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }
}

/// Reservations, published host ports and container count held on a node.
public struct NodeUsage: Sendable, Equatable {
    public var cpus: Double
    public var memoryBytes: Int64
    public var hostPorts: Set<HostPort>
    public var containerCount: Int

    public init(cpus: Double = 0, memoryBytes: Int64 = 0, hostPorts: Set<HostPort> = [], containerCount: Int = 0) {
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.hostPorts = hostPorts
        self.containerCount = containerCount
    }
}

/// One published host port. Two containers conflict on a node when they publish the same port and protocol.
public struct HostPort: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var port: Int
    public var `protocol`: TransportProtocol

    public init(_ port: Int, _ protocol: TransportProtocol = .tcp) {
        self.port = port
        self.protocol = `protocol`
    }

    public static func < (lhs: HostPort, rhs: HostPort) -> Bool {
        (lhs.port, lhs.protocol.rawValue) < (rhs.port, rhs.protocol.rawValue)
    }

    public var description: String { "\(port)/\(`protocol`.rawValue)" }
}

/// One service of the application, with the generation the control plane wants.
public struct ServiceSnapshot: Sendable, Equatable {
    public var id: String
    public var spec: ServiceSpec
    /// The desired generation; containers of other generations are updated to it by a rollout.
    public var generation: Int
    /// The spec and generation before `generation`, the target of a rollback (`nil`: first deployment).
    public var previous: PreviousGeneration?
    /// The persisted rollout of this service, as the last plan left it (`nil`: none yet).
    public var rollout: RolloutState?

    public init(id: String, spec: ServiceSpec, generation: Int, previous: PreviousGeneration? = nil, rollout: RolloutState? = nil) {
        self.id = id
        self.spec = spec
        self.generation = generation
        self.previous = previous
        self.rollout = rollout
    }
}

public struct PreviousGeneration: Sendable, Equatable {
    public var spec: ServiceSpec
    public var generation: Int

    public init(spec: ServiceSpec, generation: Int) {
        self.spec = spec
        self.generation = generation
    }
}

/// One container of a service, with its desired state (control plane) and observed state (agent).
public struct ContainerSnapshot: Sendable, Equatable {
    public var id: String
    public var serviceID: String
    /// The replica index (1-based) of a replicated service; global containers also carry one, but are keyed by node.
    public var slot: Int
    /// `nil` while not yet assigned.
    public var nodeID: String?
    public var generation: Int
    public var desired: DesiredContainerState
    public var observed: ObservedContainerState
    public var health: HealthStatus
    /// Restarts of this slot so far (carried from one incarnation to the next).
    public var restartCount: Int
    public var lastExitCode: Int?
    public var lastExitAt: Date?
    public var createdAt: Date
    /// When the agent first saw it running.
    public var startedAt: Date?
    /// When its health became `healthy` (reset by the agent whenever it leaves `healthy`).
    public var healthySince: Date?
    /// Fencing: the container that replaced this one (set when it was lost, moved or updated). A replaced container
    /// never counts as its slot's copy, whatever its node reports later.
    public var replacedBy: String?

    public init(
        id: String, serviceID: String, slot: Int, nodeID: String?, generation: Int,
        desired: DesiredContainerState = .running, observed: ObservedContainerState = .running,
        health: HealthStatus = .unknown, restartCount: Int = 0, lastExitCode: Int? = nil, lastExitAt: Date? = nil,
        createdAt: Date, startedAt: Date? = nil, healthySince: Date? = nil, replacedBy: String? = nil
    ) {
        self.id = id
        self.serviceID = serviceID
        self.slot = slot
        self.nodeID = nodeID
        self.generation = generation
        self.desired = desired
        self.observed = observed
        self.health = health
        self.restartCount = restartCount
        self.lastExitCode = lastExitCode
        self.lastExitAt = lastExitAt
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.healthySince = healthySince
        self.replacedBy = replacedBy
    }
}

/// Tunables of the planner; the defaults are the product's.
public struct PlannerOptions: Sendable, Equatable {
    /// First restart delay; doubles per restart up to `restartBackoffCap`.
    public var restartBackoffBase: TimeInterval
    public var restartBackoffCap: TimeInterval
    /// A container that ran at least this long before exiting starts its backoff (and restart count) afresh.
    public var restartBackoffReset: TimeInterval
    /// A rollout (or rollback) that has not ended this long after it started ends as failed or rolled back.
    public var rolloutTimeout: TimeInterval

    public init(restartBackoffBase: TimeInterval = 1, restartBackoffCap: TimeInterval = 300, restartBackoffReset: TimeInterval = 600, rolloutTimeout: TimeInterval = 600) {
        self.restartBackoffBase = restartBackoffBase
        self.restartBackoffCap = restartBackoffCap
        self.restartBackoffReset = restartBackoffReset
        self.rolloutTimeout = rolloutTimeout
    }
}
