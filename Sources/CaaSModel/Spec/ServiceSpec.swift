/// One compose service: the template of identical containers the planner places.
public struct ServiceSpec: Codable, Sendable, Equatable {
    public var name: String
    public var image: String
    /// `nil` keeps the image's default.
    public var command: [String]?
    public var entrypoint: [String]?
    /// Environment in declaration order; placement entries (`constraint:…`, `availability:…`) are not here.
    public var environment: [EnvironmentVariable]
    public var ports: [PortMapping]
    /// Container ports exposed to linked services only.
    public var expose: [PortRange]
    public var volumes: [VolumeMount]
    public var restart: RestartPolicy
    public var links: [ServiceLink]
    public var externalLinks: [ServiceLink]
    public var dependsOn: [ServiceDependency]
    public var labels: [String: String]
    public var mode: ServiceMode
    /// Desired count for `.replicated`; ignored for `.global`.
    public var replicas: Int
    public var resources: ResourceRequirements
    public var placement: Placement
    public var updateConfig: UpdateConfig
    public var rollbackConfig: UpdateConfig
    public var healthcheck: HealthCheck?
    public var probe: Probe?
    public var networkMode: String?
    /// `aliyun.routing.port_N`: virtual hosts or URLs served by a container port.
    public var routes: [Route]
    public var autoScaling: AutoScalingPolicy?
    /// `aliyun.log_store_<name>`: log collection targets.
    public var logStores: [LogStore]
    public var stopGracePeriodSeconds: Double?
    /// `privileged`, `cap_add`, `devices`, `pid`, `ipc`, …; `nil` when the service asks none of them.
    public var host: HostOptions?
    /// `user`, `read_only`, `cap_drop`, …; `nil` when the service sets none of them.
    public var process: ProcessOptions?
    /// `networks.<name>.aliases`: more names of this service inside its application; `nil`: none.
    public var networkAliases: [String]?

    public init(
        name: String,
        image: String,
        command: [String]? = nil,
        entrypoint: [String]? = nil,
        environment: [EnvironmentVariable] = [],
        ports: [PortMapping] = [],
        expose: [PortRange] = [],
        volumes: [VolumeMount] = [],
        restart: RestartPolicy = .no,
        links: [ServiceLink] = [],
        externalLinks: [ServiceLink] = [],
        dependsOn: [ServiceDependency] = [],
        labels: [String: String] = [:],
        mode: ServiceMode = .replicated,
        replicas: Int = 1,
        resources: ResourceRequirements = ResourceRequirements(),
        placement: Placement = Placement(),
        updateConfig: UpdateConfig = UpdateConfig(),
        rollbackConfig: UpdateConfig = UpdateConfig(),
        healthcheck: HealthCheck? = nil,
        probe: Probe? = nil,
        networkMode: String? = nil,
        routes: [Route] = [],
        autoScaling: AutoScalingPolicy? = nil,
        logStores: [LogStore] = [],
        stopGracePeriodSeconds: Double? = nil,
        host: HostOptions? = nil,
        process: ProcessOptions? = nil
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.entrypoint = entrypoint
        self.environment = environment
        self.ports = ports
        self.expose = expose
        self.volumes = volumes
        self.restart = restart
        self.links = links
        self.externalLinks = externalLinks
        self.dependsOn = dependsOn
        self.labels = labels
        self.mode = mode
        self.replicas = replicas
        self.resources = resources
        self.placement = placement
        self.updateConfig = updateConfig
        self.rollbackConfig = rollbackConfig
        self.healthcheck = healthcheck
        self.probe = probe
        self.networkMode = networkMode
        self.routes = routes
        self.autoScaling = autoScaling
        self.logStores = logStores
        self.stopGracePeriodSeconds = stopGracePeriodSeconds
        self.host = host
        self.process = process
    }
}

public struct EnvironmentVariable: Codable, Sendable, Equatable {
    public var name: String
    /// `nil` for a bare `KEY` (taken from the deploy-time variables, or unset).
    public var value: String?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }
}

public enum ServiceMode: String, Codable, Sendable, Equatable {
    case replicated
    /// One container on every eligible node (`mode: global`, `aliyun.global`).
    case global
}

public enum TransportProtocol: String, Codable, Sendable, Equatable {
    case tcp, udp, sctp
}

/// An inclusive range of ports; a single port has `lower == upper`.
public struct PortRange: Codable, Sendable, Equatable, Hashable {
    public var lower: Int
    public var upper: Int
    public var `protocol`: TransportProtocol

    public init(_ lower: Int, _ upper: Int? = nil, protocol: TransportProtocol = .tcp) {
        self.lower = lower
        self.upper = upper ?? lower
        self.protocol = `protocol`
    }

    public var count: Int { upper - lower + 1 }
}

/// A published port: container port(s) and, when fixed, the host port(s) and address.
public struct PortMapping: Codable, Sendable, Equatable {
    public var target: PortRange
    /// `nil`: the host port is chosen at placement time.
    public var published: PortRange?
    public var hostIP: String?
    /// Long syntax `mode:`; `nil` when not written (compose's default is `ingress`).
    public var mode: PortPublishMode?

    /// Acronyms spelled so that snake_case JSON (`host_ip`) decodes back to the same key.
    enum CodingKeys: String, CodingKey {
        case target, published, mode
        case hostIP = "hostIp"
    }

    public init(target: PortRange, published: PortRange? = nil, hostIP: String? = nil, mode: PortPublishMode? = nil) {
        self.target = target
        self.published = published
        self.hostIP = hostIP
        self.mode = mode
    }
}

/// How a published port is bound: through the routing mesh, or on the node running the container.
public enum PortPublishMode: String, Codable, Sendable, Equatable {
    case ingress
    case host
}

public struct VolumeMount: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, Equatable {
        /// A top-level named volume.
        case volume
        /// A host path.
        case bind
        /// A fresh anonymous volume per container.
        case anonymous
        case tmpfs
    }

    public var kind: Kind
    /// Volume name or host path; `nil` for anonymous and tmpfs.
    public var source: String?
    public var target: String
    public var readOnly: Bool

    public init(kind: Kind, source: String?, target: String, readOnly: Bool = false) {
        self.kind = kind
        self.source = source
        self.target = target
        self.readOnly = readOnly
    }
}

public enum RestartPolicy: Codable, Sendable, Equatable {
    case no
    case always
    case unlessStopped
    /// Restart after a non-zero exit, at most `maximumRetries` times (`nil`: unbounded).
    case onFailure(maximumRetries: Int?)
}

/// `links` / `external_links` entry: `service[:alias]`.
public struct ServiceLink: Codable, Sendable, Equatable {
    public var target: String
    public var alias: String

    public init(target: String, alias: String? = nil) {
        self.target = target
        self.alias = alias ?? target
    }
}

public struct ServiceDependency: Codable, Sendable, Equatable {
    public enum Condition: String, Codable, Sendable, Equatable {
        case serviceStarted = "service_started"
        case serviceHealthy = "service_healthy"
        case serviceCompletedSuccessfully = "service_completed_successfully"
    }

    public var service: String
    public var condition: Condition

    public init(service: String, condition: Condition = .serviceStarted) {
        self.service = service
        self.condition = condition
    }
}

/// CPU in cores, memory in bytes.
public struct Resources: Codable, Sendable, Equatable {
    public var cpus: Double?
    public var memoryBytes: Int64?

    public init(cpus: Double? = nil, memoryBytes: Int64? = nil) {
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }
}

public struct ResourceRequirements: Codable, Sendable, Equatable {
    /// Enforced by the engine.
    public var limits: Resources
    /// Counted against node capacity by the planner.
    public var reservations: Resources

    public init(limits: Resources = Resources(), reservations: Resources = Resources()) {
        self.limits = limits
        self.reservations = reservations
    }
}
