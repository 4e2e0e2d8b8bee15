import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import Foundation
import Testing

/// Issue 6's targets, measured end to end (run by hand: `CAAS_E2E_BENCH=1 swift test --filter AgentBenchmarks`):
/// - from `POST /v1/apps` to all containers running, a 10-container app on two engines (p50 of 5 runs; target ≤ 2 s);
/// - from an engine's loss to its replacements running, default settings (target ≤ 5 s).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["CAAS_E2E_BENCH"] != nil))
struct AgentBenchmarks {
    static let app = """
        services:
          web:
            image: caas-test/busybox:latest
            command: ["sh", "-c", "exec httpd -f -p 127.0.0.1:$$PORT -h /www"]
            restart: always
            deploy:
              replicas: 10
        """

    @Test(.timeLimit(.minutes(5)))
    func deployTenContainersThenLoseAnEngine() async throws {
        async let enginesStarting = EngineHarness.shared.engines(["bench-a", "bench-b"])
        let cp = try await ControlPlaneUnderTest.start("bench")
        let engines = try await enginesStarting
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("caas-bench-agent-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let tenant = try await cp.makeTenant("bench")
        let cluster = try await cp.call(.post, "/v1/clusters", token: tenant.admin, body: ["name": "bench"])
        let clusterID = try #require(cluster["id"] as? String)
        try await AgentJoiner(serverURL: cp.apiURL, token: try #require(cluster["join_token"] as? String), trust: cp.joinTrust,
                              stateDirectory: AgentStateDirectory(path: stateDir), endpoint: nil).join()
        var options = AgentRuntimeOptions(stateDirectory: AgentStateDirectory(path: stateDir))
        options.listenPort = 0
        options.nodes = engines.enumerated().map { .init(name: "node-\($0.offset)", endpoint: "unix://" + $0.element.socketPath) }
        let runtime = try await AgentRuntime.start(options: options, makeTransport: await EngineHarness.shared.transportFactory,
                                                   logger: ControlPlaneUnderTest.logger("caas.bench.agent"))
        let run = Task { await runtime.run() }
        try await Task.sleep(for: .seconds(2))   // heartbeats: both nodes ready

        var durations: [Duration] = []
        for round in 1...5 {
            let start = ContinuousClock.now
            let created = try await cp.call(.post, "/v1/apps", token: tenant.operator, body: ["name": "bench-\(round)", "cluster_id": clusterID, "compose": Self.app])
            let appID = try #require(created["id"] as? String, "\(created.text)")
            let up = await eventually(.seconds(30)) { await EndToEndTests.running(engines, cluster: clusterID).count == 10 }
            let elapsed = ContinuousClock.now - start
            #expect(up)
            durations.append(elapsed)
            print("bench: round \(round): POST /v1/apps → 10 containers running in \(elapsed)")
            if round == 5 {
                let lost = engines[0]
                let onLost = await EndToEndTests.running([lost], cluster: clusterID).count
                let lossStart = ContinuousClock.now
                lost.stop()
                let nodeA = runtime.nodes[0].nodeId
                let down = try await eventually(.seconds(30)) {
                    try await cp.call(.get, "/v1/nodes/\(nodeA)", token: tenant.admin)["status"] as? String == "down"
                }
                print("bench: engine loss → node down in \(ContinuousClock.now - lossStart) (\(down))")
                let replaced = await eventually(.seconds(30)) { await EndToEndTests.running([engines[1]], cluster: clusterID).count == 10 }
                #expect(replaced)
                print("bench: engine loss → \(onLost) replacements running in \(ContinuousClock.now - lossStart)")
            } else {
                _ = try await cp.call(.delete, "/v1/apps/\(appID)", token: tenant.operator)
                _ = await eventually(.seconds(30)) {
                    var left = 0
                    for engine in engines { left += (try? await EndToEndTests.containers(engine, cluster: clusterID).count) ?? 0 }
                    return left == 0
                }
            }
        }
        let sorted = durations.sorted()
        print("bench: deploy p50 \(sorted[sorted.count / 2]), min \(sorted.first!), max \(sorted.last!)")
        run.cancel()
        await run.value
        await runtime.shutdown()
        for engine in engines where engine.isRunning {
            let client = await EngineHarness.shared.engineClient(engine)
            for summary in (try? await client.listContainers(labels: ["caas.cluster=\(clusterID)"])) ?? [] {
                try? await client.removeContainer(summary.id, force: true)
            }
        }
        await cp.stop()
    }
}
