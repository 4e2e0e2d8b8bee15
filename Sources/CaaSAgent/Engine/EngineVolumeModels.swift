/// `POST /volumes/create`.
public struct VolumeCreateBody: Encodable, Sendable, Equatable {
    public var name: String
    public var driver: String
    public var driverOpts: [String: String]
    public var labels: [String: String]

    public init(name: String, driver: String = "local", driverOpts: [String: String] = [:], labels: [String: String] = [:]) {
        self.name = name
        self.driver = driver
        self.driverOpts = driverOpts
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", driverOpts = "DriverOpts", labels = "Labels"
    }
}

/// A volume as `GET /volumes/{name}` and `GET /volumes` describe it.
public struct EngineVolume: Decodable, Sendable, Equatable {
    public var name: String
    public var driver: String
    public var labels: [String: String]
    /// The driver options it was created with (`DriverOpts` at create).
    public var options: [String: String]
    public var mountpoint: String?

    public init(name: String, driver: String = "local", labels: [String: String] = [:], options: [String: String] = [:], mountpoint: String? = nil) {
        self.name = name
        self.driver = driver
        self.labels = labels
        self.options = options
        self.mountpoint = mountpoint
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", labels = "Labels", options = "Options", mountpoint = "Mountpoint"
    }

    /// The engine writes `null` for no labels or no options.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        driver = try container.decodeIfPresent(String.self, forKey: .driver) ?? "local"
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        options = try container.decodeIfPresent([String: String].self, forKey: .options) ?? [:]
        mountpoint = try container.decodeIfPresent(String.self, forKey: .mountpoint)
    }
}

/// `GET /volumes`.
struct VolumeList: Decodable {
    var volumes: [EngineVolume]?
    enum CodingKeys: String, CodingKey { case volumes = "Volumes" }
}
