/// The desired shape of an application, as parsed from a compose template.
///
/// An `AppSpec` is a plain value: compose parsing produces it, the planner reads it, the store keeps
/// it as JSON. Field names follow the compose specification where one exists; the original product's
/// `aliyun.*` / `caas.*` label extensions are first-class fields (`scale`, `routing`, `probe`, …).
public struct AppSpec: Codable, Sendable, Equatable {
    /// Container services, in the order the template declares them.
    public var services: [ServiceSpec]
    /// `external:` services: endpoints outside the cluster, never containers.
    public var externalServices: [ExternalServiceSpec]
    /// Top-level named volumes.
    public var volumes: [VolumeSpec]
    /// The compose `name:` (project name), when the template declares one.
    public var name: String?

    public init(services: [ServiceSpec] = [], externalServices: [ExternalServiceSpec] = [], volumes: [VolumeSpec] = [], name: String? = nil) {
        self.services = services
        self.externalServices = externalServices
        self.volumes = volumes
        self.name = name
    }

    public func service(named name: String) -> ServiceSpec? {
        services.first { $0.name == name }
    }
}

/// An endpoint outside the cluster that other services link to by name (`wordpress-cloud.yml`'s `db`).
public struct ExternalServiceSpec: Codable, Sendable, Equatable {
    public var name: String
    public var host: String
    public var ports: [Int]

    public init(name: String, host: String, ports: [Int]) {
        self.name = name
        self.host = host
        self.ports = ports
    }
}

/// A top-level volume declaration.
public struct VolumeSpec: Codable, Sendable, Equatable {
    public var name: String
    public var driver: String?
    public var driverOptions: [String: String]
    public var external: Bool
    public var labels: [String: String]
    /// The volume's real name when it differs from the key (`name:`, or `external: {name: …}`).
    public var externalName: String?

    public init(name: String, driver: String? = nil, driverOptions: [String: String] = [:], external: Bool = false, labels: [String: String] = [:], externalName: String? = nil) {
        self.name = name
        self.driver = driver
        self.driverOptions = driverOptions
        self.external = external
        self.labels = labels
        self.externalName = externalName
    }
}
