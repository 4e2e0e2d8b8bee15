/// How a service moves from one generation to the next (`deploy.update_config` / `rollback_config`).
public struct UpdateConfig: Codable, Sendable, Equatable {
    public enum Order: String, Codable, Sendable, Equatable {
        case stopFirst = "stop-first"
        case startFirst = "start-first"
    }

    public enum FailureAction: String, Codable, Sendable, Equatable {
        case pause
        case rollback
        case `continue`
    }

    /// Containers replaced at once; 0 means all at once.
    public var parallelism: Int
    public var delaySeconds: Double
    public var order: Order
    public var failureAction: FailureAction
    /// Fraction of failed containers tolerated before the failure action (0...1).
    public var maxFailureRatio: Double
    /// How long a new container is watched for failure after it becomes healthy.
    public var monitorSeconds: Double

    public init(parallelism: Int = 1, delaySeconds: Double = 0, order: Order = .stopFirst, failureAction: FailureAction = .rollback, maxFailureRatio: Double = 0, monitorSeconds: Double = 5) {
        self.parallelism = parallelism
        self.delaySeconds = delaySeconds
        self.order = order
        self.failureAction = failureAction
        self.maxFailureRatio = maxFailureRatio
        self.monitorSeconds = monitorSeconds
    }
}
