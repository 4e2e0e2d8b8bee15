import CaaSModel

/// Where an agent's reports go: the control plane's report endpoint in production, a recorder
/// in tests. A thrown error means "not delivered": the batch is kept and sent again.
public protocol AgentReporter: Sendable {
    func deliver(_ report: AgentReport) async throws
}

/// A reporter made of a closure.
public struct ClosureReporter: AgentReporter {
    private let body: @Sendable (AgentReport) async throws -> Void

    public init(_ body: @escaping @Sendable (AgentReport) async throws -> Void) {
        self.body = body
    }

    public func deliver(_ report: AgentReport) async throws {
        try await body(report)
    }
}

/// Where heartbeats go (the control plane's heartbeat endpoint in production).
public protocol HeartbeatSink: Sendable {
    func beat(_ heartbeat: Heartbeat) async throws
}
