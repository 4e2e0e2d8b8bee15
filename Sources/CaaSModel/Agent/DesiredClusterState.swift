import Foundation

/// Everything a cluster's agent should make true, pushed by the control plane.
///
/// The push is fenced by `generation`: an agent that has applied generation N ignores any push
/// of a lower generation, so a stale pusher cannot undo a newer decision.
public struct DesiredClusterState: Codable, Sendable, Equatable {
    public var clusterId: String
    /// Increases with every change the control plane makes to the cluster's desired state.
    public var generation: Int64
    public var nodes: [DesiredNodeState]
    /// Applications whose named volumes are to be removed from every node (deleted with
    /// `volumes=true`); the agent removes the volumes it created for them once no container
    /// uses them.
    public var volumeRemovals: [VolumeRemoval]

    public init(clusterId: String, generation: Int64, nodes: [DesiredNodeState], volumeRemovals: [VolumeRemoval] = []) {
        self.clusterId = clusterId
        self.generation = generation
        self.nodes = nodes
        self.volumeRemovals = volumeRemovals
    }

    enum CodingKeys: String, CodingKey {
        case clusterId, generation, nodes, volumeRemovals
    }

    /// A state from a control plane that predates `volume_removals` has none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clusterId = try container.decode(String.self, forKey: .clusterId)
        generation = try container.decode(Int64.self, forKey: .generation)
        nodes = try container.decode([DesiredNodeState].self, forKey: .nodes)
        volumeRemovals = try container.decodeIfPresent([VolumeRemoval].self, forKey: .volumeRemovals) ?? []
    }

    /// The node's desired containers; a node the state does not mention has none.
    public func node(_ nodeId: String) -> DesiredNodeState? {
        nodes.first { $0.nodeId == nodeId }
    }
}

/// The containers that should exist on one node. Containers absent here are removed by the agent.
public struct DesiredNodeState: Codable, Sendable, Equatable {
    public var nodeId: String
    public var containers: [DesiredContainer]
    /// The caas network the node's engine should have (clusters with `node_subnets` networking);
    /// `nil`: none (host networking).
    public var network: DesiredNodeNetwork?

    public init(nodeId: String, containers: [DesiredContainer], network: DesiredNodeNetwork? = nil) {
        self.nodeId = nodeId
        self.containers = containers
        self.network = network
    }
}

/// A node's caas network: a bridge on its engine for the node's subnet, the first host address
/// of which is the bridge's (the containers' gateway). Its containers (`DesiredNetwork.caas`)
/// get their fixed addresses from it.
public struct DesiredNodeNetwork: Codable, Sendable, Equatable {
    /// The engine network's name (`ContainerAddressAllocator.networkName`).
    public var name: String
    public var subnet: String
    public var gateway: String
    /// The node's name server (`ContainerAddressAllocator.nameServer`): the agent runs it there,
    /// and the network's containers ask it (`nil` from an older control plane: none).
    public var nameServer: String?

    public init(name: String, subnet: String, gateway: String, nameServer: String? = nil) {
        self.name = name
        self.subnet = subnet
        self.gateway = gateway
        self.nameServer = nameServer
    }
}

/// A name a container resolves through its node's name server (`ServiceNames`): to the
/// addresses of a service's serving containers, or to an outside host or address.
public struct DesiredName: Codable, Sendable, Equatable {
    public var name: String
    /// A service of the container's own application.
    public var service: String?
    /// An `external:` service's host name (answered as a CNAME) or IPv4 address.
    public var target: String?

    public init(name: String, service: String? = nil, target: String? = nil) {
        self.name = name
        self.service = service
        self.target = target
    }
}

/// One container as the control plane wants it. A changed spec or a move makes a new container
/// (a new `containerId`), never an edit of this one.
public struct DesiredContainer: Codable, Sendable, Equatable {
    /// `ctr_…`: the control plane's id, also the `caas.container` label on the engine.
    public var containerId: String
    public var tenantId: String
    public var appId: String
    /// Used in the engine's container name; `appId` is the label.
    public var appName: String
    public var serviceName: String
    /// 1-based replica number within the service (`<n>` in the container name).
    public var slot: Int
    /// The application generation this container was planned for (label `caas.generation`).
    public var generation: Int64
    public var image: String
    /// `nil` keeps the image's default.
    public var command: [String]?
    public var entrypoint: [String]?
    /// Resolved values, in order; duplicates: the last one wins in the engine.
    public var environment: [EnvironmentVariable]
    public var network: DesiredNetwork
    /// Its own address on the node's caas network (with `.caas`), chosen at placement.
    public var address: String?
    /// The names it resolves (`ServiceNames`), with `.caas`; `nil`: none.
    public var names: [DesiredName]?
    /// Concrete bindings chosen at placement time (used with `.bridge`; informative with `.host`).
    public var ports: [DesiredPort]
    public var volumes: [DesiredVolume]
    public var limits: Resources
    public var labels: [String: String]
    public var probe: Probe?
    public var healthcheck: HealthCheck?
    public var state: DesiredContainerState
    /// SIGTERM, then this long, then SIGKILL.
    public var stopGracePeriodSeconds: Double
    /// Privileged mode, added capabilities, devices, host namespaces, …; `nil`: none.
    public var host: HostOptions?
    /// User, read-only root, dropped capabilities, …; `nil`: the image's defaults.
    public var process: ProcessOptions?
    /// The service's restart policy: what the agent follows on its own while the control plane
    /// is out of reach (`nil` from an older control plane: never restart locally).
    public var restart: RestartPolicy?

    public init(
        containerId: String,
        tenantId: String,
        appId: String,
        appName: String,
        serviceName: String,
        slot: Int,
        generation: Int64,
        image: String,
        command: [String]? = nil,
        entrypoint: [String]? = nil,
        environment: [EnvironmentVariable] = [],
        network: DesiredNetwork = .host,
        ports: [DesiredPort] = [],
        volumes: [DesiredVolume] = [],
        limits: Resources = Resources(),
        labels: [String: String] = [:],
        probe: Probe? = nil,
        healthcheck: HealthCheck? = nil,
        state: DesiredContainerState = .running,
        stopGracePeriodSeconds: Double = 10,
        host: HostOptions? = nil,
        process: ProcessOptions? = nil,
        restart: RestartPolicy? = nil,
        address: String? = nil,
        names: [DesiredName]? = nil
    ) {
        self.address = address
        self.names = names
        self.containerId = containerId
        self.tenantId = tenantId
        self.appId = appId
        self.appName = appName
        self.serviceName = serviceName
        self.slot = slot
        self.generation = generation
        self.image = image
        self.command = command
        self.entrypoint = entrypoint
        self.environment = environment
        self.network = network
        self.ports = ports
        self.volumes = volumes
        self.limits = limits
        self.labels = labels
        self.probe = probe
        self.healthcheck = healthcheck
        self.state = state
        self.stopGracePeriodSeconds = stopGracePeriodSeconds
        self.host = host
        self.process = process
        self.restart = restart
    }
}

public enum DesiredNetwork: String, Codable, Sendable, Equatable {
    /// The node's network namespace; the container listens on the address and ports it is given.
    case host
    /// The engine's default bridge with `ports` published.
    case bridge
    /// No network at all.
    case none
    /// The node's caas network (`DesiredNodeState.network`), at the container's own `address`.
    case caas
}

/// A published port, fully resolved: no ranges, no "any host port".
public struct DesiredPort: Codable, Sendable, Equatable, Hashable {
    public var containerPort: Int
    public var hostPort: Int
    /// `nil`: every address of the node.
    public var hostAddress: String?
    public var `protocol`: TransportProtocol

    public init(containerPort: Int, hostPort: Int, hostAddress: String? = nil, protocol: TransportProtocol = .tcp) {
        self.containerPort = containerPort
        self.hostPort = hostPort
        self.hostAddress = hostAddress
        self.protocol = `protocol`
    }
}

/// A mount, and for a named volume how the engine volume is made when the node lacks it.
public struct DesiredVolume: Codable, Sendable, Equatable {
    public var kind: VolumeMount.Kind
    /// The engine volume's name (see `VolumeNaming`) or the host path; `nil` for anonymous and tmpfs.
    public var source: String?
    public var target: String
    public var readOnly: Bool
    /// Volume driver for `.volume` and `.anonymous` (`nil`: the engine's `local`).
    public var driver: String?
    public var driverOptions: [String: String]
    /// The compose top-level `labels` of a named volume (caas adds its own when it creates one).
    public var labels: [String: String]
    /// The top-level key that declared a named volume (label `caas.volume`).
    public var declaredName: String?
    /// An external volume exists already: the agent never creates nor removes it.
    public var external: Bool

    public init(kind: VolumeMount.Kind, source: String? = nil, target: String, readOnly: Bool = false, driver: String? = nil,
                driverOptions: [String: String] = [:], labels: [String: String] = [:], declaredName: String? = nil, external: Bool = false) {
        self.kind = kind
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.driver = driver
        self.driverOptions = driverOptions
        self.labels = labels
        self.declaredName = declaredName
        self.external = external
    }

    enum CodingKeys: String, CodingKey {
        case kind, source, target, readOnly, driver, driverOptions, labels, declaredName, external
    }

    /// A mount from a control plane that predates volume definitions has no labels and is not external.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(VolumeMount.Kind.self, forKey: .kind)
        source = try container.decodeIfPresent(String.self, forKey: .source)
        target = try container.decode(String.self, forKey: .target)
        readOnly = try container.decodeIfPresent(Bool.self, forKey: .readOnly) ?? false
        driver = try container.decodeIfPresent(String.self, forKey: .driver)
        driverOptions = try container.decodeIfPresent([String: String].self, forKey: .driverOptions) ?? [:]
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        declaredName = try container.decodeIfPresent(String.self, forKey: .declaredName)
        external = try container.decodeIfPresent(Bool.self, forKey: .external) ?? false
    }
}

/// An application deleted with its volumes: the agent removes every engine volume it created
/// for it (labelled `caas.cluster`, `caas.tenant` and `caas.app`) on every node.
public struct VolumeRemoval: Codable, Sendable, Equatable, Hashable {
    public var tenantId: String
    public var appId: String

    public init(tenantId: String, appId: String) {
        self.tenantId = tenantId
        self.appId = appId
    }
}
