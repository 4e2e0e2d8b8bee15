import CaaSAgent
import CaaSEngineSupport
import Foundation
import Testing

/// A cluster of `ControlPlaneUnderTest` with a real agent joined through the public API, driving
/// the given engines as its nodes, each node named after its engine. `stop()` ends the agent and
/// removes every container the cluster left on the engines.
final class AgentUnderTest: @unchecked Sendable {
    let clusterID: String
    let stateDirectory: String
    let engines: [PrivateEngine]
    let runtime: AgentRuntime
    private let task: Task<Void, Never>

    /// `settings`: more members of the cluster's creation body (`network_cidr`, `networking`, …).
    static func join(_ cp: ControlPlaneUnderTest, adminToken: String, cluster name: String, engines: [PrivateEngine],
                     settings: [String: Any] = [:]) async throws -> AgentUnderTest {
        let cluster = try await cp.call(.post, "/v1/clusters", token: adminToken, body: settings.merging(["name": name]) { _, new in new })
        guard cluster.status == 201, let clusterID = cluster["id"] as? String, let joinToken = cluster["join_token"] as? String else {
            throw E2EError("cluster: \(cluster.text)")
        }
        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("caas-e2e-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))").path
        _ = try await AgentJoiner(serverURL: cp.apiURL, token: joinToken, trust: cp.joinTrust, stateDirectory: AgentStateDirectory(path: stateDirectory), endpoint: nil).join()
        var options = AgentRuntimeOptions(stateDirectory: AgentStateDirectory(path: stateDirectory))
        options.listenPort = 0
        options.nodes = engines.map { .init(name: $0.name, endpoint: "unix://" + $0.socketPath) }
        options.reconcileInterval = .seconds(3)
        // The nodes' name servers forward nothing: no traffic leaves the test's namespaces.
        options.nameServerUpstreams = []
        let runtime = try await AgentRuntime.start(options: options, makeTransport: await EngineHarness.shared.transportFactory,
                                                   logger: ControlPlaneUnderTest.logger("caas.e2e.agent"))
        let agent = AgentUnderTest(clusterID: clusterID, stateDirectory: stateDirectory, engines: engines, runtime: runtime,
                                   task: Task { await runtime.run() })
        let ready = try await eventually(.seconds(15)) {
            let nodes = try await cp.call(.get, "/v1/clusters/\(clusterID)/nodes", token: adminToken)
            return nodes.items.count == engines.count && nodes.items.allSatisfy { $0["status"] as? String == "ready" }
        }
        guard ready else {
            await agent.stop()
            throw E2EError("the agent's nodes did not become ready")
        }
        return agent
    }

    private init(clusterID: String, stateDirectory: String, engines: [PrivateEngine], runtime: AgentRuntime, task: Task<Void, Never>) {
        self.clusterID = clusterID
        self.stateDirectory = stateDirectory
        self.engines = engines
        self.runtime = runtime
        self.task = task
    }

    /// The running containers of the cluster's `service`, by caas container id → engine name.
    func running(service: String? = nil) async -> [String: String] {
        await EndToEndTests.running(engines, cluster: clusterID, service: service)
    }

    func stop() async {
        task.cancel()
        await task.value
        await runtime.shutdown()
        for engine in engines where engine.isRunning {
            let client = await EngineHarness.shared.engineClient(engine)
            let named = (try? await client.listContainers(labels: ["caas.dns=\(clusterID)"])) ?? []
            for summary in ((try? await client.listContainers(labels: ["caas.cluster=\(clusterID)"])) ?? []) + named {
                try? await client.removeContainer(summary.id, force: true)
            }
        }
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }
}
