/// `aliyun.routing.port_N: host1;http://host2/path`: requests for these hosts go to container port `containerPort`.
public struct Route: Codable, Sendable, Equatable {
    public var containerPort: Int
    /// A virtual host (`restserver.local`) or URL (`http://wordpress`, `https://shop.example/api`).
    public var host: String
    public var scheme: String?
    public var path: String?

    public init(containerPort: Int, host: String, scheme: String? = nil, path: String? = nil) {
        self.containerPort = containerPort
        self.host = host
        self.scheme = scheme
        self.path = path
    }
}

/// `aliyun.auto_scaling.*`: scale out above `maxCPU`, in below `minCPU` (percent of the limit).
public struct AutoScalingPolicy: Codable, Sendable, Equatable {
    public var maxCPU: Double?
    public var minCPU: Double?
    public var step: Int
    public var minInstances: Int
    public var maxInstances: Int

    /// `max_cpu` / `min_cpu` in snake_case JSON decode back to these keys.
    enum CodingKeys: String, CodingKey {
        case maxCPU = "maxCpu"
        case minCPU = "minCpu"
        case step, minInstances, maxInstances
    }

    public init(maxCPU: Double? = nil, minCPU: Double? = nil, step: Int = 1, minInstances: Int = 1, maxInstances: Int = 10) {
        self.maxCPU = maxCPU
        self.minCPU = minCPU
        self.step = step
        self.minInstances = minInstances
        self.maxInstances = maxInstances
    }
}

/// `aliyun.log_store_<name>: stdout` or a file path inside the container.
public struct LogStore: Codable, Sendable, Equatable {
    public var name: String
    public var source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}
