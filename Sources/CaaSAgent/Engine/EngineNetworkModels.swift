/// `POST /networks/create`: a bridge network with one IPv4 pool.
public struct NetworkCreateBody: Encodable, Sendable, Equatable {
    public struct IPAMPool: Encodable, Sendable, Equatable {
        public var subnet: String
        public var gateway: String?
        enum CodingKeys: String, CodingKey { case subnet = "Subnet", gateway = "Gateway" }
    }
    public struct IPAM: Encodable, Sendable, Equatable {
        public var driver: String
        public var config: [IPAMPool]
        enum CodingKeys: String, CodingKey { case driver = "Driver", config = "Config" }
    }

    public var name: String
    public var driver: String
    public var checkDuplicate: Bool
    public var ipam: IPAM
    public var options: [String: String]
    public var labels: [String: String]

    public init(name: String, subnet: String, gateway: String?, options: [String: String] = [:], labels: [String: String] = [:]) {
        self.name = name
        driver = "bridge"
        checkDuplicate = true
        ipam = IPAM(driver: "default", config: [IPAMPool(subnet: subnet, gateway: gateway)])
        self.options = options
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", checkDuplicate = "CheckDuplicate", ipam = "IPAM", options = "Options", labels = "Labels"
    }
}

/// A network as `GET /networks/{id}` and `GET /networks` describe it (the members caas reads).
public struct EngineNetwork: Decodable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var driver: String
    public var labels: [String: String]
    /// The IPv4/IPv6 pools' subnets, in the engine's order.
    public var subnets: [String]

    enum CodingKeys: String, CodingKey { case id = "Id", name = "Name", driver = "Driver", labels = "Labels", ipam = "IPAM" }
    struct IPAM: Decodable { var config: [Pool]?; enum CodingKeys: String, CodingKey { case config = "Config" } }
    struct Pool: Decodable { var subnet: String?; enum CodingKeys: String, CodingKey { case subnet = "Subnet" } }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id) ?? ""
        name = try container.decode(String.self, forKey: .name)
        driver = try container.decodeIfPresent(String.self, forKey: .driver) ?? ""
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        subnets = (try container.decodeIfPresent(IPAM.self, forKey: .ipam)?.config ?? []).compactMap(\.subnet)
    }
}

/// `POST /networks/create` answers the new network's id.
struct NetworkCreated: Decodable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "Id" }
}
