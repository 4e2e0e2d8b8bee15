import CaaSModel
import Foundation

extension ObservedEngineContainer {
    /// The planner's view of a listed engine container.
    public init(_ summary: ContainerSummary) {
        self.init(engineId: summary.id,
                  name: summary.names.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.id,
                  labels: summary.labels,
                  status: Status(rawValue: summary.state) ?? .unknown,
                  createdAt: summary.created,
                  exitCode: ObservedEngineContainer.exitCode(fromStatus: summary.status))
    }
}

extension ObservedContainerState {
    /// The lifecycle state an engine state means: `created` is starting, `running`, `paused`
    /// and `restarting` are running, `exited` (any code, OOM-killed included) is exited, `dead`
    /// is failed.
    public init(engineStatus: String) {
        switch engineStatus {
        case "created": self = .starting
        case "running", "paused", "restarting": self = .running
        case "exited", "removing": self = .exited
        case "dead": self = .failed
        default: self = .lost
        }
    }
}

extension ContainerObservation {
    /// What an inspection says of a caas container.
    public init(_ details: ContainerDetails, containerId: String, nodeId: String, health: HealthStatus, observedAt: Date) {
        let state = ObservedContainerState(engineStatus: details.state.status)
        self.init(
            containerId: containerId,
            nodeId: nodeId,
            state: state,
            exitCode: state.isTerminal ? details.state.exitCode : nil,
            oomKilled: details.state.oomKilled,
            health: health,
            restartCount: details.restartCount,
            startedAt: details.state.startedAt.flatMap(RFC3339.parse),
            finishedAt: state.isTerminal ? details.state.finishedAt.flatMap(RFC3339.parse) : nil,
            engineContainerId: details.id,
            message: details.state.error.flatMap { $0.isEmpty ? nil : $0 },
            observedAt: observedAt
        )
    }
}
