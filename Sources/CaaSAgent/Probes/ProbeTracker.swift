import CaaSModel

/// Health from consecutive probe results: `starting` until the first result, `healthy` after a
/// success, `unhealthy` after `failureThreshold` failures in a row.
public struct ProbeTracker: Sendable, Equatable {
    public let failureThreshold: Int
    public private(set) var status: HealthStatus = .starting
    public private(set) var consecutiveFailures = 0
    public private(set) var lastFailure: String?

    public init(failureThreshold: Int) {
        self.failureThreshold = max(1, failureThreshold)
    }

    /// Records one result; answers the new status when it changed.
    @discardableResult
    public mutating func record(_ result: ProbeResult) -> HealthStatus? {
        let before = status
        switch result {
        case .success:
            consecutiveFailures = 0
            lastFailure = nil
            status = .healthy
        case .failure(let reason):
            consecutiveFailures += 1
            lastFailure = reason
            if consecutiveFailures >= failureThreshold { status = .unhealthy }
        }
        return status == before ? nil : status
    }
}

public enum ProbeResult: Sendable, Equatable {
    case success
    case failure(String)
}

extension Probe {
    /// A compose healthcheck, run by the agent as a command probe (`CMD …` or `CMD-SHELL …`).
    public init?(_ healthcheck: HealthCheck) {
        guard let kind = healthcheck.test.first else { return nil }
        let command: [String]
        switch kind {
        case "CMD": command = Array(healthcheck.test.dropFirst())
        case "CMD-SHELL": command = ["/bin/sh", "-c", healthcheck.test.dropFirst().joined(separator: " ")]
        case "NONE": return nil
        default: command = healthcheck.test
        }
        guard !command.isEmpty else { return nil }
        self.init(check: .command(command), initialDelaySeconds: healthcheck.startPeriodSeconds,
                  timeoutSeconds: healthcheck.timeoutSeconds, intervalSeconds: healthcheck.intervalSeconds,
                  failureThreshold: healthcheck.retries)
    }
}
