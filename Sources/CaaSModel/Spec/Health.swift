/// The compose `healthcheck:`, run inside the container by the agent.
public struct HealthCheck: Codable, Sendable, Equatable {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]`; `disable: true` or `["NONE"]` gives `nil` for the whole healthcheck.
    public var test: [String]
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var retries: Int
    public var startPeriodSeconds: Double

    public init(test: [String], intervalSeconds: Double = 30, timeoutSeconds: Double = 30, retries: Int = 3, startPeriodSeconds: Double = 0) {
        self.test = test
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.startPeriodSeconds = startPeriodSeconds
    }
}

/// The original product's probe (`aliyun.probe.*`): run by the agent from outside the container.
public struct Probe: Codable, Sendable, Equatable {
    public enum Check: Codable, Sendable, Equatable {
        /// `http://container[:port]/path`: healthy on 2xx or 3xx.
        case http(port: Int, path: String)
        /// `tcp://container:port`: healthy when a connection opens.
        case tcp(port: Int)
        /// `aliyun.probe.cmd`: healthy on exit code 0.
        case command([String])
    }

    public var check: Check
    public var initialDelaySeconds: Double
    public var timeoutSeconds: Double
    public var intervalSeconds: Double
    public var failureThreshold: Int

    public init(check: Check, initialDelaySeconds: Double = 0, timeoutSeconds: Double = 1, intervalSeconds: Double = 2, failureThreshold: Int = 3) {
        self.check = check
        self.initialDelaySeconds = initialDelaySeconds
        self.timeoutSeconds = timeoutSeconds
        self.intervalSeconds = intervalSeconds
        self.failureThreshold = failureThreshold
    }
}
