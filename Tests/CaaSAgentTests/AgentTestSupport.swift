import CaaSEngineSupport
import CaaSModel
import Foundation
@testable import CaaSAgent

/// Records every report and heartbeat an agent sends.
actor ReportRecorder: AgentReporter, HeartbeatSink {
    private(set) var reports: [AgentReport] = []
    private(set) var heartbeats: [Heartbeat] = []

    func deliver(_ report: AgentReport) async throws { reports.append(report) }
    func beat(_ heartbeat: Heartbeat) async throws { heartbeats.append(heartbeat) }

    var containerObservations: [ContainerObservation] { reports.flatMap(\.containers) }
    var nodeObservations: [NodeObservation] { reports.flatMap(\.nodes) }

    /// The newest observation of a container.
    func latest(_ containerId: String) -> ContainerObservation? {
        containerObservations.filter { $0.containerId == containerId }.max { $0.observedAt < $1.observedAt }
    }

    func latestNode(_ nodeId: String) -> NodeObservation? {
        nodeObservations.filter { $0.nodeId == nodeId }.max { $0.observedAt < $1.observedAt }
    }
}

/// Waits until `condition` holds, checking every 20 ms; false after `timeout`.
func eventually(within timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

enum Fixture {
    static func clusterId() -> String { Identifier.make(.cluster) }

    static func configuration(_ clusterId: String) -> AgentConfiguration {
        AgentConfiguration(clusterId: clusterId, maxOperationsPerNode: 3, reconcileInterval: .seconds(2),
                           statsInterval: .milliseconds(300), heartbeatInterval: .milliseconds(200),
                           reportWindow: .milliseconds(20), reconnectBackoff: (.milliseconds(50), .milliseconds(300)))
    }

    static func container(_ app: String = "shop", service: String = "web", slot: Int, command: [String] = ["sleep", "600"],
                          probe: Probe? = nil, state: DesiredContainerState = .running, limits: Resources = Resources(),
                          environment: [EnvironmentVariable] = []) -> DesiredContainer {
        DesiredContainer(containerId: Identifier.make(.container), tenantId: "ten_test", appId: "app_\(app)", appName: app,
                         serviceName: service, slot: slot, generation: 1, image: BusyboxImage.reference, command: command,
                         environment: environment, network: .host, limits: limits, probe: probe, state: state,
                         stopGracePeriodSeconds: 2)
    }

    /// An agent of the engines; with `ports`, it completes every state it applies (as `caas-agent` does).
    static func agent(_ clusterId: String, engines: [(String, PrivateEngine)], recorder: ReportRecorder,
                      ports: PortAssignment? = nil) async -> ClusterAgent {
        ClusterAgent(configuration: configuration(clusterId),
                     nodes: engines.map { AgentNode(nodeId: $0.0, endpoint: $0.1.endpoint) },
                     makeTransport: await EngineHarness.shared.transportFactory, reporter: recorder, heartbeats: recorder, ports: ports)
    }

    /// `count` container ids whose port `PortAssignment` derives at `offset` into `range` (so they
    /// collide there), in id order; `make` makes candidates.
    static func containerIds(startingAt offset: Int, in range: Range<Int>, count: Int,
                             make: () -> String = { Identifier.make(.container) }) -> [String] {
        var found: [String] = []
        while found.count < count {
            let id = make()
            if PortAssignment.hash(id) % range.count == offset, !found.contains(id) { found.append(id) }
        }
        return found.sorted()
    }

    /// Removes every container of `clusterId` from the engines (test clean-up).
    static func removeAll(_ clusterId: String, from engines: [PrivateEngine]) async {
        for engine in engines where engine.isRunning {
            let client = await EngineHarness.shared.engineClient(engine)
            for summary in (try? await client.listContainers(labels: ["caas.cluster=\(clusterId)"])) ?? [] {
                try? await client.removeContainer(summary.id, force: true)
            }
        }
    }

    /// A free-looking loopback port for a test server.
    static func port() -> Int { Int.random(in: 20_000..<40_000) }
}
