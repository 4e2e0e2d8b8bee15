import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import CaaSServer
import CaaSTestSupport
import Foundation
import Testing

/// Issue 13 item 6: the agent loses the control plane. A real agent drives a real dockerd; both
/// directions of its channel go through TCP proxies the test controls — the agent's heartbeats and
/// reports to the control plane's agent API, and the control plane's pushes to the agent's mTLS
/// endpoint. The test cuts both (silently: no byte passes, nothing is closed) for
/// `CAAS_TEST_PARTITION_SECONDS` (default 15: five times the default node-failure timeout, 3 s;
/// 60 for the issue's full minute). Meanwhile the containers keep running; one is killed by hand
/// and the agent restarts it in place, by its restart policy, once the control plane has been
/// silent for `outOfReachAfter`. After the heal:
/// three run, none doubled (engine and control plane agree), and — when the node was not declared
/// down — none of those that ran through the partition was restarted (same engine ids, same start
/// times).
@Suite(.serialized) struct AgentPartitionTests {
    static let compose = """
        services:
          web:
            image: caas-test/busybox:latest
            command: ["sh", "-c", "exec httpd -f -p 127.0.0.1:$$PORT -h /www"]
            restart: always
            deploy:
              replicas: 3
        """

    struct Seen: Equatable, CustomStringConvertible {
        var engineID: String
        var state: String
        var startedAt: String
        var description: String { "\(engineID.prefix(12)) \(state) since \(startedAt)" }
    }

    /// Every container of the cluster on the engine, by caas container id.
    static func seen(_ engine: PrivateEngine, cluster: String) async throws -> [String: Seen] {
        let client = await EngineHarness.shared.engineClient(engine)
        var result: [String: Seen] = [:]
        for summary in try await client.listContainers(labels: ["caas.cluster=\(cluster)"]) {
            guard let id = summary.labels["caas.container"] else { continue }
            precondition(result[id] == nil, "two engine containers for caas container \(id)")
            // Gone between the list and now (removed meanwhile): not there.
            guard let details = try? await client.inspectContainer(summary.id) else { continue }
            result[id] = Seen(engineID: summary.id, state: summary.state, startedAt: details.state.startedAt ?? "")
        }
        return result
    }

    static var partition: Double { ProcessInfo.processInfo.environment["CAAS_TEST_PARTITION_SECONDS"].flatMap(Double.init) ?? 15 }

    /// The control plane's node-failure timeout outlasts the partition (`CAAS_NODE_DOWN_AFTER` set
    /// above the longest partition to ride out): nothing that ran is touched by the heal.
    @Test(.timeLimit(.minutes(3)))
    func agentCutOffForLessThanTheNodeDownTimeoutKeepsItsContainersAndDoublesNothing() async throws {
        try await partitionScenario(nodeDownAfter: Self.partition + 30, markedDown: false)
    }

    /// The partition outlasts the node-failure timeout (3 s, the default): the control plane marks
    /// the node down and its containers lost. The cluster has no other node, so no replacement can
    /// be placed and the lost containers stay wanted; after the heal the agent reports them
    /// running and the control plane counts them again: nothing that ran through is restarted.
    @Test(.timeLimit(.minutes(3)))
    func agentCutOffForLongerThanTheNodeDownTimeoutDoublesNothing() async throws {
        try await partitionScenario(nodeDownAfter: 3, markedDown: true)
    }

    func partitionScenario(nodeDownAfter: TimeInterval, markedDown: Bool) async throws {
        let partition = Self.partition
        async let enginesStarting = EngineHarness.shared.engines(["partition-a"])
        // Agent → control plane: its agent API through `up` (the URL the control plane gives agents
        // at join and renewal is the proxy's).
        let channelPort = try TCPProxy.freePort()
        let up = try TCPProxy(upstream: .tcp(host: "127.0.0.1", port: channelPort))
        let cp = try await ControlPlaneUnderTest.start("e2e_partition", agentChannel: {
            $0.listenPort = channelPort
            $0.advertisedURL = "https://127.0.0.1:\(up.port)"
        }, workerSettings: { $0.nodeDownAfter = nodeDownAfter })
        let engines = try await enginesStarting
        let engine = engines[0]
        let tenant = try await cp.makeTenant("partition")
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("caas-e2e-partition-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        var runtime: AgentRuntime?
        var runTask: Task<Void, Never>?
        var clusterID = ""
        var proxies: [TCPProxy] = [up]
        do {
            let cluster = try await cp.call(.post, "/v1/clusters", token: tenant.admin, body: ["name": "prod"])
            clusterID = try #require(cluster["id"] as? String, "\(cluster.text)")
            let joinToken = try #require(cluster["join_token"] as? String)
            let directory = AgentStateDirectory(path: stateDir)
            let joined = try await AgentJoiner(serverURL: cp.apiURL, token: joinToken, trust: cp.joinTrust, stateDirectory: directory, endpoint: nil).join()

            #expect(joined.agentApiUrl == "https://127.0.0.1:\(up.port)", "the agent calls through the proxy: \(joined.agentApiUrl)")
            // Control plane → agent: pushes to the advertised endpoint, `down`, in front of the agent's real port.
            let agentPort = try TCPProxy.freePort()
            let down = try TCPProxy(upstream: .tcp(host: "127.0.0.1", port: agentPort))
            proxies.append(down)

            var options = AgentRuntimeOptions(stateDirectory: directory)
            options.listenPort = agentPort
            options.advertisedEndpoint = "https://127.0.0.1:\(down.port)"
            options.nodes = [.init(name: "node-a", endpoint: "unix://" + engine.socketPath)]
            options.reconcileInterval = .seconds(2)
            options.outOfReachAfter = .seconds(2)
            options.backoff = (.milliseconds(200), .seconds(2))
            let agent = try await AgentRuntime.start(options: options, makeTransport: await EngineHarness.shared.transportFactory,
                                                     logger: ControlPlaneUnderTest.logger("caas.e2e.agent"))
            runtime = agent
            runTask = Task { await agent.run() }
            let nodeID = try #require(agent.nodes.first?.nodeId)
            let nodeStatus = { @Sendable () async throws -> String in
                (try await cp.call(.get, "/v1/nodes/\(nodeID)", token: tenant.admin))["status"] as? String ?? "?"
            }
            #expect(try await eventually(.seconds(15)) { try await nodeStatus() == "ready" }, "the node is ready")

            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator, body: ["name": "web", "cluster_id": clusterID, "compose": Self.compose])
            #expect(app.status == 202 || app.status == 201, "\(app.text)")
            let appID = try #require(app["id"] as? String)
            let deployed = try await eventually(.seconds(30)) {
                try await Self.seen(engine, cluster: clusterID).values.filter { $0.state == "running" }.count == 3
            }
            #expect(deployed, "3 containers run before the partition")
            // Let the reports settle (the control plane sees them running).
            #expect(try await eventually(.seconds(15)) {
                let rows = try await cp.call(.get, "/v1/containers?app=\(appID)&limit=100", token: tenant.operator)
                return rows.items.filter { $0["observed_state"] as? String == "running" }.count == 3
            })
            let before = try await Self.seen(engine, cluster: clusterID)

            // The agent heartbeats (through the proxy) before the cut.
            let beating = try await eventually(.seconds(10)) {
                try await cp.database.pool.withConnection { c in
                    try c.query("SELECT count(*)::int8 AS n FROM nodes WHERE last_heartbeat_at > now() - interval '2 seconds'")[0].decode("n", as: Int.self)
                } == 1
            }
            #expect(beating, "the agent's heartbeats land before the cut")
            let heartbeat: String = try await cp.database.pool.withConnection { c in
                try c.query("SELECT (now() - last_heartbeat_at)::text AS ago, status FROM nodes").map { "\(try $0.decode("status", as: String.self)), last heartbeat \(try $0.decode("ago", as: String?.self) ?? "never") ago" }.joined()
            }
            print("agent partition: before the cut the node is \(heartbeat)")

            // The partition.
            up.cut()
            down.cut()
            let cutAt = ContinuousClock.now
            print("agent partition: cut for \(partition) s; before: \(before)")
            // Past node_down_after the control plane declares the node down (when it is shorter than the partition).
            var wentDown = nodeDownAfter < partition ? try await eventually(.seconds(nodeDownAfter + 3)) { try await nodeStatus() != "ready" } : false
            print("agent partition: the control plane sees the node \(try await nodeStatus()) after \(ContinuousClock.now - cutAt) (\(wentDown))")

            // A container dies during the partition: the agent restarts it locally.
            let (victim, victimSeen) = try #require(before.min { $0.key < $1.key })
            try await EngineHarness.shared.engineClient(engine).killContainer(victimSeen.engineID)
            let killedAt = ContinuousClock.now
            let restarted = try await eventually(.seconds(max(3, min(6, partition - 4)))) {
                let now = try await Self.seen(engine, cluster: clusterID)[victim]
                return now?.state == "running" && now?.startedAt != victimSeen.startedAt
            }
            print("agent partition: the killed container restarted locally after \(ContinuousClock.now - killedAt) (\(restarted))")
            #expect(restarted, "the agent restarted the killed container while cut off")
            let duringPartition = try await Self.seen(engine, cluster: clusterID)
            #expect(duringPartition.count == 3, "\(duringPartition)")
            for (id, seen) in before where id != victim {
                #expect(duringPartition[id] == seen, "\(id) kept running through the partition")
            }
            #expect(duringPartition[victim]?.engineID == victimSeen.engineID, "restarted in place, if at all, not recreated")

            let remaining = Duration.seconds(partition) - (ContinuousClock.now - cutAt)
            if remaining > .zero { try await Task.sleep(for: remaining) }
            let statusBeforeHeal = try await nodeStatus()
            if statusBeforeHeal != "ready" { wentDown = true }
            up.heal()
            down.heal()
            let healedAt = ContinuousClock.now
            let backReady = try await eventually(.seconds(20)) { try await nodeStatus() == "ready" }
            print("agent partition: healed after \(healedAt - cutAt); node ready again after \(ContinuousClock.now - healedAt) (\(backReady))")
            #expect(backReady, "the node is ready after the heal")
            // Long enough for the control plane to reconcile what it marked lost and for the agent
            // to apply any push and reconcile its engine (every 2 s) a few times.
            let resynced = try await eventually(.seconds(45)) {
                let rows = try await cp.call(.get, "/v1/containers?app=\(appID)&limit=100", token: tenant.operator)
                return rows.items.filter { $0["observed_state"] as? String == "running" && $0["desired_state"] as? String == "running" }.count == 3
            }
            print("agent partition: the control plane sees 3 running \(ContinuousClock.now - healedAt) after the heal (\(resynced))")
            try await Task.sleep(for: .seconds(6))
            let after = try await Self.seen(engine, cluster: clusterID)
            let rows = try await cp.call(.get, "/v1/containers?app=\(appID)&limit=100", token: tenant.operator)
            let live = rows.items.filter { ($0["desired_state"] as? String) != "removed" }
            print("agent partition: after the heal \(after); control plane rows \(rows.items.map { "\($0["id"]!) desired=\($0["desired_state"]!) observed=\($0["observed_state"]!)" })")
            #expect(resynced, "the control plane sees the 3 containers running again")
            let running = after.filter { $0.value.state == "running" }
            #expect(running.count == 3, "3 run, none doubled: \(after)")
            #expect(live.count == 3, "the control plane holds 3 live containers, nothing extra: \(live.count) live rows")
            // What ran through the partition was not restarted, recreated or doubled by the heal.
            let untouched = duringPartition.filter { $0.value.state == "running" && after[$0.key] == $0.value }.count
            let ranThrough = duringPartition.filter { $0.value.state == "running" }.count
            if markedDown {
                #expect(wentDown, "the control plane marked the node down during the partition")
                #expect(untouched == ranThrough, "\(untouched) of \(ranThrough) untouched by the heal")
                // Lost while down, found again: every row the control plane keeps is one that ran through.
                #expect(Set(live.compactMap { $0["id"] as? String }) == Set(duringPartition.keys), "the same containers, none replaced")
            } else {
                #expect(!wentDown, "the node was not marked down: the partition is shorter than node_down_after")
                for (id, seen) in duringPartition where seen.state == "running" && id != victim {
                    #expect(after[id] == seen, "\(id) was not restarted after the heal: \(String(describing: after[id])) vs \(seen)")
                }
            }
            // The killed one: restarted in place (locally) or replaced once, after the heal.
            let added = Set(running.keys).subtracting(before.keys)
            if markedDown {
                #expect(added.isEmpty, "nothing replaced: \(added)")
            } else if restarted {
                // The exit was reported into the cut connection and arrives after the heal, before
                // the report that it runs again; observed states only move forward, so the
                // control plane takes the exit as final and replaces the container once.
                withKnownIssue("an exit reported during the partition is final: the control plane replaces the container the agent restarted in place",
                               isIntermittent: true) {
                    #expect(added.isEmpty, "no replacement of a container the agent restarted itself: \(added)")
                }
                #expect(added.count <= 1, "at most the restarted one replaced: \(added)")
            } else {
                #expect(added.count == 1 && running[victim] == nil, "the dead container replaced once: \(added)")
            }
            print("agent partition: node \(statusBeforeHeal) at the end of the cut; after the heal \(running.count) running, \(added.count) replaced, "
                + "\(untouched) untouched of \(ranThrough) that ran through the cut (node_down_after \(nodeDownAfter) s)")
        } catch {
            Issue.record(error)
        }
        for proxy in proxies { proxy.heal() }
        runTask?.cancel()
        await runTask?.value
        await runtime?.shutdown()
        for proxy in proxies { proxy.stop() }
        if !clusterID.isEmpty {
            let client = await EngineHarness.shared.engineClient(engine)
            for summary in (try? await client.listContainers(labels: ["caas.cluster=\(clusterID)"])) ?? [] {
                try? await client.removeContainer(summary.id, force: true)
            }
        }
        await cp.stop()
    }
}
