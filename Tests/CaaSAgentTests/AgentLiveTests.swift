import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import Foundation
import Testing
@testable import CaaSAgent

/// The agent against two real dockerd engines (node-a, node-b).
@Suite struct AgentLiveTests {
    @Test func executorConvergesDesiredStateAcrossTwoNodesThenScalesDown() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "node-b"])
        let cluster = Fixture.clusterId()
        let recorder = ReportRecorder()
        let agent = await Fixture.agent(cluster, engines: [("nod_a", engines[0]), ("nod_b", engines[1])], recorder: recorder)
        defer { Task { await Fixture.removeAll(cluster, from: engines) } }

        let limits = Resources(cpus: 0.5, memoryBytes: 64 << 20)
        let a1 = Fixture.container(slot: 1, limits: limits, environment: [EnvironmentVariable(name: "MODE", value: "test")])
        let a2 = Fixture.container(slot: 2, limits: limits)
        let b1 = Fixture.container(service: "db", slot: 1)
        let state = DesiredClusterState(clusterId: cluster, generation: 1, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [a1, a2]),
            DesiredNodeState(nodeId: "nod_b", containers: [b1]),
        ])
        guard case .applied(1, let actions, []) = await agent.apply(state) else { Issue.record("not applied"); return }
        #expect(actions["nod_a"]?.count == 2)

        let clientA = await EngineHarness.shared.engineClient(engines[0])
        let clientB = await EngineHarness.shared.engineClient(engines[1])
        let onA = try await clientA.listContainers(labels: ["caas.cluster=\(cluster)"])
        let onB = try await clientB.listContainers(labels: ["caas.cluster=\(cluster)"])
        #expect(Set(onA.map { $0.labels["caas.container"] ?? "" }) == [a1.containerId, a2.containerId])
        #expect(onB.map { $0.labels["caas.container"] } == [b1.containerId])
        #expect(onA.allSatisfy { $0.state == "running" } && onB.allSatisfy { $0.state == "running" })

        let details = try await clientA.inspectContainer(ContainerNaming.name(for: a1))
        #expect(details.name == "/" + ContainerNaming.name(for: a1))
        #expect(details.config.labels?["caas.tenant"] == "ten_test")
        #expect(details.config.labels?["caas.app"] == "app_shop")
        #expect(details.config.labels?["caas.service"] == "web")
        #expect(details.config.labels?["caas.generation"] == "1")
        #expect(details.config.env?.contains("MODE=test") == true)
        #expect(details.hostConfig.nanoCpus == 500_000_000)
        #expect(details.hostConfig.memory == 64 << 20)
        #expect(details.hostConfig.networkMode == "host")
        #expect(details.hostConfig.initProcess == true)

        #expect(await eventually { await [a1, a2, b1].asyncAllSatisfy { await recorder.latest($0.containerId)?.state == .running } })

        // Scale down: a2 leaves the desired state.
        var smaller = state
        smaller.generation = 2
        smaller.nodes[0].containers = [a1]
        _ = await agent.apply(smaller)
        let afterA = try await clientA.listContainers(labels: ["caas.cluster=\(cluster)"])
        #expect(afterA.map { $0.labels["caas.container"] } == [a1.containerId])
        #expect(await eventually { await recorder.latest(a2.containerId)?.state == .removed })

        // A stale push cannot undo it.
        #expect(await agent.apply(state) == .ignored(reason: "generation 1 is older than the applied generation 2"))
        #expect(try await clientA.listContainers(labels: ["caas.cluster=\(cluster)"]).count == 1)
        // Re-applying the same generation changes nothing.
        guard case .applied(2, let again, _) = await agent.apply(smaller) else { Issue.record("not applied"); return }
        #expect(again.values.flatMap { $0 }.allSatisfy { !$0.action.changesEngine })
    }

    @Test func containerKilledByHandIsReportedExitedWithinASecond() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "node-b"])
        let cluster = Fixture.clusterId()
        let recorder = ReportRecorder()
        let agent = await Fixture.agent(cluster, engines: [("nod_a", engines[0])], recorder: recorder)
        defer { Task { await Fixture.removeAll(cluster, from: engines) } }
        let running = Task { await agent.run() }
        defer { running.cancel() }

        let victim = Fixture.container(slot: 1)
        _ = await agent.apply(DesiredClusterState(clusterId: cluster, generation: 1, nodes: [DesiredNodeState(nodeId: "nod_a", containers: [victim])]))
        #expect(await eventually { await recorder.latest(victim.containerId)?.state == .running })
        // Stats are sampled while it runs.
        #expect(await eventually { await recorder.latest(victim.containerId)?.memoryBytes != nil })

        let client = await EngineHarness.shared.engineClient(engines[0])
        try await Task.sleep(for: .milliseconds(300))  // the event stream is connected
        let killedAt = ContinuousClock.now
        try await client.killContainer(ContainerNaming.name(for: victim))
        let seen = await eventually(within: .seconds(5)) { await recorder.latest(victim.containerId)?.state == .exited }
        let took = ContinuousClock.now - killedAt
        #expect(seen)
        // The event stream, not the 10 s periodic reconciliation, reported it (loose for loaded machines).
        #expect(took < .seconds(5), "reported after \(took)")
        let observation = await recorder.latest(victim.containerId)
        #expect(observation?.exitCode == 137)
        #expect(observation?.finishedAt != nil)
        #expect(observation?.oomKilled == false)
        // Restarting is the control plane's decision: the agent leaves it exited.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await client.inspectContainer(ContainerNaming.name(for: victim)).state.status == "exited")
    }

    @Test func restartedAgentAdoptsRunningContainersWithoutRestartingAndLeavesForeignOnesAlone() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "node-b"])
        let cluster = Fixture.clusterId()
        let client = await EngineHarness.shared.engineClient(engines[1])
        defer { Task { await Fixture.removeAll(cluster, from: engines) } }

        // A foreign container and one of another cluster on the same engine.
        let foreignName = "foreign-\(UUID().uuidString.prefix(8))"
        let foreign = try await client.createContainer(name: foreignName, body: ContainerCreateBody(
            image: BusyboxImage.reference, cmd: ["sleep", "600"], env: [], labels: ["app": "not-caas"], exposedPorts: nil, stopTimeout: 1,
            hostConfig: .init(networkMode: "host", initProcess: true, restartPolicy: .init(name: "no"))))
        try await client.startContainer(foreign)
        let otherCluster = Fixture.clusterId()
        var other = Fixture.container("other", slot: 1)
        other.stopGracePeriodSeconds = 1
        let otherId = try await client.createContainer(name: ContainerNaming.name(for: other), body: ContainerCreateBody(other, clusterId: otherCluster))
        try await client.startContainer(otherId)
        defer { Task { try? await client.removeContainer(foreign, force: true); try? await client.removeContainer(otherId, force: true) } }

        let web = [Fixture.container(slot: 1), Fixture.container(slot: 2)]
        let state = DesiredClusterState(clusterId: cluster, generation: 5, nodes: [DesiredNodeState(nodeId: "nod_b", containers: web)])
        let first = await Fixture.agent(cluster, engines: [("nod_b", engines[1])], recorder: ReportRecorder())
        _ = await first.apply(state)
        var startedAt: [String: String] = [:]
        for container in web {
            startedAt[container.containerId] = try await client.inspectContainer(ContainerNaming.name(for: container)).state.startedAt
        }

        // A new agent process: it knows nothing but the engine's labels.
        let recorder = ReportRecorder()
        let second = await Fixture.agent(cluster, engines: [("nod_b", engines[1])], recorder: recorder)
        guard case .applied(_, let actions, _) = await second.apply(state) else { Issue.record("not applied"); return }
        #expect(Set(actions["nod_b"]?.map(\.action.containerId) ?? []) == Set(web.map(\.containerId)))
        #expect(actions["nod_b"]?.allSatisfy { if case .adopt = $0.action { true } else { false } } == true)
        for container in web {
            let details = try await client.inspectContainer(ContainerNaming.name(for: container))
            #expect(details.state.running)
            #expect(details.state.startedAt == startedAt[container.containerId], "not restarted")
        }
        #expect(await eventually { await web.asyncAllSatisfy { await recorder.latest($0.containerId)?.state == .running } })

        // Scaling the cluster to nothing removes ours and nothing else.
        _ = await second.apply(DesiredClusterState(clusterId: cluster, generation: 6, nodes: []))
        #expect(try await client.listContainers(labels: ["caas.cluster=\(cluster)"]).isEmpty)
        #expect(try await client.inspectContainer(foreign).state.running)
        #expect(try await client.inspectContainer(otherId).state.running)
    }

    @Test func httpTcpAndCommandProbesDecideHealth() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "node-b"])
        let cluster = Fixture.clusterId()
        let recorder = ReportRecorder()
        let agent = await Fixture.agent(cluster, engines: [("nod_b", engines[1])], recorder: recorder)
        defer { Task { await Fixture.removeAll(cluster, from: engines) } }
        let port = Fixture.port()
        let closedPort = port + 1
        func probe(_ check: Probe.Check) -> Probe {
            Probe(check: check, initialDelaySeconds: 0.1, timeoutSeconds: 1, intervalSeconds: 0.2, failureThreshold: 2)
        }
        let server = ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", "/www"]
        let http = Fixture.container(service: "http", slot: 1, command: server, probe: probe(.http(port: port, path: "/index.html")))
        let missingPage = Fixture.container(service: "http404", slot: 1, command: ["sleep", "600"], probe: probe(.http(port: port, path: "/missing")))
        let tcp = Fixture.container(service: "tcp", slot: 1, command: ["sleep", "600"], probe: probe(.tcp(port: port)))
        let tcpClosed = Fixture.container(service: "tcpclosed", slot: 1, command: ["sleep", "600"], probe: probe(.tcp(port: closedPort)))
        let command = Fixture.container(service: "cmd", slot: 1, command: ["sleep", "600"], probe: probe(.command(["cat", "/www/index.html"])))
        let commandFails = Fixture.container(service: "cmdfail", slot: 1, command: ["sleep", "600"], probe: probe(.command(["false"])))
        _ = await agent.apply(DesiredClusterState(clusterId: cluster, generation: 1, nodes: [
            DesiredNodeState(nodeId: "nod_b", containers: [http, missingPage, tcp, tcpClosed, command, commandFails]),
        ]))
        let expected: [(DesiredContainer, HealthStatus)] = [
            (http, .healthy), (missingPage, .unhealthy), (tcp, .healthy), (tcpClosed, .unhealthy), (command, .healthy), (commandFails, .unhealthy),
        ]
        let settled = await eventually(within: .seconds(10)) {
            await expected.asyncAllSatisfy { await recorder.latest($0.0.containerId)?.health == $0.1 }
        }
        #expect(settled)
        for (container, health) in expected {
            #expect(await recorder.latest(container.containerId)?.health == health, "\(container.serviceName)")
        }
        #expect(await recorder.latest(tcpClosed.containerId)?.message?.contains("\(closedPort)") == true)
    }

    @Test func observationOfARunningContainerCarriesTheAddressItServesOn() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "node-b"])
        let cluster = Fixture.clusterId()
        let recorder = ReportRecorder()
        let agent = await Fixture.agent(cluster, engines: [("nod_a", engines[0])], recorder: recorder)
        defer { Task { await Fixture.removeAll(cluster, from: engines) } }

        // Serving on $PORT as the agent gives it; ports outside Fixture.port()'s range.
        let serve = ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]
        let assigned = Fixture.container(service: "web", slot: 1, command: serve)
        var published = Fixture.container(service: "api", slot: 1, command: serve)
        published.ports = [DesiredPort(containerPort: 8080, hostPort: Int.random(in: 41_000..<41_500))]
        var isolated = Fixture.container(service: "batch", slot: 1)
        isolated.network = .none
        let assignment = PortAssignment(range: 41_500..<42_000)
        let state = assignment.decorate(DesiredClusterState(clusterId: cluster, generation: 1, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [assigned, published, isolated]),
        ]))
        _ = await agent.apply(state)
        let port = try #require(assignment.port(of: assigned.containerId))
        let all = [assigned, published, isolated]
        #expect(await eventually { await all.asyncAllSatisfy { await recorder.latest($0.containerId)?.state == .running } })

        let served = await recorder.latest(assigned.containerId)
        #expect(served?.address == "127.0.0.1:\(port)")
        #expect(served?.ports == [])
        let details = try await EngineHarness.shared.engineClient(engines[0]).inspectContainer(ContainerNaming.name(for: assigned))
        #expect(details.config.env?.contains("PORT=\(port)") == true, "the port reported is the one the container was given")
        let publishing = await recorder.latest(published.containerId)
        #expect(publishing?.address == "127.0.0.1:\(published.ports[0].hostPort)")
        #expect(publishing?.ports == published.ports)
        #expect(await recorder.latest(isolated.containerId)?.address == nil)
        #expect(await recorder.latest(isolated.containerId)?.ports == [])

        // The addresses answer.
        let client = try HTTPClient()
        defer { client.shutdown() }
        for container in [assigned, published] {
            let address = try #require(await recorder.latest(container.containerId)?.address)
            let answered = await eventually {
                let page = try? await client.execute(try HTTPClientRequest(url: "http://\(address)/index.html"), timeout: .seconds(2))
                return page?.bodyText.contains("caas test page") == true
            }
            #expect(answered, "\(container.serviceName) at \(address)")
        }

        // A restarted agent that adopts the container reports the same address, read from the
        // engine, even from a desired state it has not assigned ports in.
        let restartedRecorder = ReportRecorder()
        let restarted = await Fixture.agent(cluster, engines: [("nod_a", engines[0])], recorder: restartedRecorder)
        _ = await restarted.apply(DesiredClusterState(clusterId: cluster, generation: 1, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: all),
        ]))
        #expect(await eventually { await restartedRecorder.latest(assigned.containerId)?.address == "127.0.0.1:\(port)" })
    }

    @Test func restartedAgentKeepsTheAdoptedContainersPortsAndGivesACollidingNewcomerAFreeOne() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "node-b"])
        let cluster = Fixture.clusterId()
        defer { Task { await Fixture.removeAll(cluster, from: engines) } }
        // A range of 16 ports of this test's own (other tests use Fixture.port() and 41_000..<42_000).
        let base = 42_000 + 16 * Int.random(in: 0..<60)
        let range = base..<(base + 16)
        // Three ids whose ports start at one place; the newcomer's id sorts first, so an agent that
        // did not know what the engines hold would hand it the first container's port.
        let ids = Fixture.containerIds(startingAt: 3, in: range, count: 3)
        let serve = ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]
        // The probe's port 80 is the template's: on host networking the probe checks where the container serves.
        let probe = Probe(check: .http(port: 80, path: "/index.html"), initialDelaySeconds: 0.1, timeoutSeconds: 1, intervalSeconds: 0.2,
                          failureThreshold: 2)
        func web(_ id: String, slot: Int) -> DesiredContainer {
            var container = Fixture.container(service: "web", slot: slot, command: serve, probe: probe)
            container.containerId = id
            return container
        }
        let (newcomer, first, second) = (web(ids[0], slot: 3), web(ids[1], slot: 1), web(ids[2], slot: 2))
        // A spec that sets PORT itself serves there, and is probed there. Its id starts elsewhere.
        let ownPort = Int.random(in: 43_000..<43_500)
        var own = Fixture.container(service: "own", slot: 1, command: serve, probe: probe,
                                    environment: [EnvironmentVariable(name: "PORT", value: String(ownPort))])
        own.containerId = Fixture.containerIds(startingAt: 12, in: range, count: 1)[0]
        let nodes = [("nod_a", engines[0]), ("nod_b", engines[1])]

        let recorder = ReportRecorder()
        let agent = await Fixture.agent(cluster, engines: nodes, recorder: recorder, ports: PortAssignment(range: range))
        _ = await agent.apply(DesiredClusterState(clusterId: cluster, generation: 1, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [first, own]), DesiredNodeState(nodeId: "nod_b", containers: [second]),
        ]))
        let started = [first, second, own]
        let green = await eventually { await started.asyncAllSatisfy { await recorder.latest($0.containerId)?.health == .healthy } }
        let firstMessages = await started.asyncMap { await recorder.latest($0.containerId)?.message }
        #expect(green, "\(firstMessages)")
        let clients = [await EngineHarness.shared.engineClient(engines[0]), await EngineHarness.shared.engineClient(engines[1])]
        func details(_ container: DesiredContainer) async throws -> ContainerDetails {
            try await clients[container.containerId == second.containerId ? 1 : 0].inspectContainer(ContainerNaming.name(for: container))
        }
        var held: [String: Int] = [:]
        var startedAt: [String: String] = [:]
        for container in started {
            let found = try await details(container)
            held[container.containerId] = PortAssignment.heldPort(networkMode: found.hostConfig.networkMode, environment: found.config.env ?? [])
            startedAt[container.containerId] = found.state.startedAt
        }
        #expect(held[first.containerId] == base + 3 && held[second.containerId] == base + 4, "\(held)")

        // The agent process ends (its probes with it); a new one knows nothing but the engines.
        for (node, _) in nodes { await agent.executor(for: node)?.shutdown() }
        let after = ReportRecorder()
        let ports = PortAssignment(range: range)
        let restarted = await Fixture.agent(cluster, engines: nodes, recorder: after, ports: ports)
        guard case .applied(2, let actions, []) = await restarted.apply(DesiredClusterState(clusterId: cluster, generation: 2, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [first, own, newcomer]), DesiredNodeState(nodeId: "nod_b", containers: [second]),
        ])) else { Issue.record("not applied"); return }
        func kind(_ action: ExecutorAction) -> String {
            switch action {
            case .adopt: "adopt"
            case .create: "create"
            default: "\(action)"
            }
        }
        let kinds = Dictionary(uniqueKeysWithValues: actions.values.flatMap { $0 }.map { ($0.action.containerId, kind($0.action)) })
        #expect(kinds == [first.containerId: "adopt", second.containerId: "adopt", own.containerId: "adopt", newcomer.containerId: "create"])

        // The adopted containers keep their ports, are not restarted, and their probes stay green.
        for container in started {
            #expect(ports.port(of: container.containerId) == held[container.containerId], "\(container.serviceName).\(container.slot)")
            #expect(try await details(container).state.startedAt == startedAt[container.containerId], "not restarted")
        }
        // The newcomer gets a port no adopted container holds, and serves there.
        let given = try #require(ports.port(of: newcomer.containerId))
        #expect(range.contains(given))
        #expect(!held.values.contains(given), "\(given) is held: \(held)")
        #expect(try await details(newcomer).config.env?.contains("PORT=\(given)") == true)
        let all = started + [newcomer]
        let stillGreen = await eventually { await all.asyncAllSatisfy { await after.latest($0.containerId)?.health == .healthy } }
        let messages = await all.asyncMap { await after.latest($0.containerId)?.message }
        #expect(stillGreen, "\(messages)")
        #expect(await after.latest(first.containerId)?.address == "127.0.0.1:\(base + 3)")
        #expect(await after.latest(second.containerId)?.address == "127.0.0.1:\(base + 4)")
        #expect(await after.latest(own.containerId)?.address == "127.0.0.1:\(ownPort)")
        #expect(await after.latest(newcomer.containerId)?.address == "127.0.0.1:\(given)")
        let client = try HTTPClient()
        defer { client.shutdown() }
        for port in [base + 3, base + 4, ownPort, given] {
            let page = try? await client.execute(try HTTPClientRequest(url: "http://127.0.0.1:\(port)/index.html"), timeout: .seconds(2))
            #expect(page?.bodyText.contains("caas test page") == true, "127.0.0.1:\(port) answers")
        }
        for (node, _) in nodes { await restarted.executor(for: node)?.shutdown() }
    }

    @Test func stoppedEngineIsReportedUnreachableWhileTheOtherNodeKeepsWorking() async throws {
        let engines = try await EngineHarness.shared.engines(["node-a", "doomed"])
        let (healthy, doomed) = (engines[0], engines[1])
        let cluster = Fixture.clusterId()
        let recorder = ReportRecorder()
        let agent = await Fixture.agent(cluster, engines: [("nod_a", healthy), ("nod_c", doomed)], recorder: recorder)
        defer { Task { await Fixture.removeAll(cluster, from: [healthy]) } }
        let running = Task { await agent.run() }
        defer { running.cancel() }

        let onA = Fixture.container(slot: 1), onC = Fixture.container(slot: 2)
        _ = await agent.apply(DesiredClusterState(clusterId: cluster, generation: 1, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [onA]), DesiredNodeState(nodeId: "nod_c", containers: [onC]),
        ]))
        #expect(await eventually { await recorder.latestNode("nod_c")?.engineReachable == true })
        #expect(await eventually { await recorder.latest(onC.containerId)?.state == .running })

        doomed.destroy()
        #expect(await eventually(within: .seconds(5)) { await recorder.latestNode("nod_c")?.engineReachable == false })
        #expect(await recorder.latestNode("nod_c")?.error != nil)
        let beat = await agent.heartbeat()
        #expect(beat.nodes.first { $0.nodeId == "nod_c" }?.engineReachable == false)
        #expect(beat.nodes.first { $0.nodeId == "nod_a" }?.engineReachable == true)
        #expect(await recorder.heartbeats.isEmpty == false)

        // The other node is undisturbed and still takes work.
        let more = Fixture.container(slot: 3)
        _ = await agent.apply(DesiredClusterState(clusterId: cluster, generation: 2, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [onA, more]), DesiredNodeState(nodeId: "nod_c", containers: [onC]),
        ]))
        let client = await EngineHarness.shared.engineClient(healthy)
        #expect(try await client.inspectContainer(ContainerNaming.name(for: more)).state.running)
        #expect(try await client.inspectContainer(ContainerNaming.name(for: onA)).state.running)
        #expect(await recorder.latestNode("nod_a")?.engineReachable == true)
    }
}

extension Sequence where Element: Sendable {
    func asyncAllSatisfy(_ predicate: (Element) async -> Bool) async -> Bool {
        for element in self where !(await predicate(element)) { return false }
        return true
    }

    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var result: [T] = []
        for element in self { result.append(await transform(element)) }
        return result
    }
}
