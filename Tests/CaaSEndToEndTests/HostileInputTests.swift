import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import CaaSPostgres
import Foundation
import Testing

/// Numbers no server may trap on (issue 11, item 1), end to end: a tenant's compose file asking
/// for 1e17 CPUs and an agent reporting `Int.max` CPUs are refused at the boundary, and the
/// replicas already deployed keep serving while the planner keeps planning.
@Suite(.serialized) struct HostileInputTests {
    static let server = """
        services:
          web:
            image: caas-test/busybox:latest
            command: ["sh", "-c", "exec httpd -f -p 127.0.0.1:$$PORT -h /www"]
            deploy:
              replicas: 2
        """

    @Test(.timeLimit(.minutes(3)))
    func hugeCPUsFromAComposeFileOrAnAgentLeaveEveryReplicaServing() async throws {
        async let enginesStarting = EngineHarness.shared.engines(["hostile-a"])
        let cp = try await ControlPlaneUnderTest.start("e2e_hostile")
        let engines = try await enginesStarting
        let tenant = try await cp.makeTenant("hostile")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: engines)
        do {
            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                        body: ["name": "web", "cluster_id": agent.clusterID, "compose": Self.server])
            #expect(app.status == 201 || app.status == 202, "\(app.text)")
            let appID = try #require(app["id"] as? String)
            #expect(await eventually(.seconds(30)) { await agent.running(service: "web").count == 2 }, "deployed")

            // The compose file: refused with the line at fault, on create and on update.
            let greedy = Self.server + "\n      resources:\n        reservations:\n          cpus: \"1e17\"\n"
            let created = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                            body: ["name": "greedy", "cluster_id": agent.clusterID, "compose": greedy])
            #expect(created.status == 422, "\(created.text)")
            #expect(created.text.contains("1e17 is out of range") && created.text.contains("reservations.cpus"), "\(created.text)")
            let updated = try await cp.call(.post, "/v1/apps/\(appID)/update", token: tenant.operator, body: ["compose": greedy])
            #expect(updated.status == 422, "\(updated.text)")
            #expect(updated.text.contains(#""line":9,"path":"services.web.deploy.resources.reservations.cpus""#), "the line at fault: \(updated.text)")

            // The agent: its report with Int.max CPUs is refused whole.
            let client = try ControlPlaneClient(directory: AgentStateDirectory(path: agent.stateDirectory))
            defer { client.shutdown() }
            let nodeID = try #require(agent.runtime.nodes.first?.nodeId)
            let report = AgentReport(clusterId: agent.clusterID, sequence: Int64.max, appliedGeneration: 0, sentAt: Date(), containers: [],
                                     nodes: [NodeObservation(nodeId: nodeID, engineReachable: true, cpus: Int.max, memoryBytes: Int64.max, observedAt: Date())])
            do {
                try await client.deliver(report)
                Issue.record("a report with Int.max CPUs was accepted")
            } catch AgentJoinError.refused(let status, let detail) {
                #expect(status == 400 && detail.contains("cpus"), "\(detail)")
            }

            // Everything still serves: the replicas answer, and the planner still places (scale to 3).
            let services = try await cp.call(.get, "/v1/apps/\(appID)/services", token: tenant.operator)
            let web = try #require(services.items.first?["id"] as? String)
            let scaled = try await cp.call(.post, "/v1/services/\(web)/scale", token: tenant.operator, body: ["replicas": 3])
            #expect(scaled.status == 200 || scaled.status == 202, "\(scaled.text)")
            #expect(await eventually(.seconds(30)) { await agent.running(service: "web").count == 3 }, "scaled after the refused inputs")
            for containerID in await agent.running(service: "web").keys {
                let resource = try await cp.call(.get, "/v1/containers/\(containerID)", token: tenant.operator)
                let answered = try await eventually(.seconds(10)) {
                    guard let address = try await cp.call(.get, "/v1/containers/\(containerID)", token: tenant.operator)["address"] as? String else { return false }
                    let page = try? await cp.client.execute(try HTTPClientRequest(url: "http://\(address)/index.html"), timeout: .seconds(5))
                    return page?.bodyText.contains("caas test page") == true
                }
                #expect(answered, "\(containerID) serves: \(resource.text)")
            }
            let node = try await cp.call(.get, "/v1/nodes/\(nodeID)", token: tenant.admin)
            #expect(node["status"] as? String == "ready", "\(node.text)")
        } catch {
            Issue.record(error)
        }
        await agent.stop()
        await cp.stop()
    }

    /// Issue 13 item 5: heartbeats use connections the API cannot exhaust.
    @Test(.timeLimit(.minutes(3)))
    func aFloodOfAPIRequestsNeverMarksANodeDown() async throws {
        async let enginesStarting = EngineHarness.shared.engines(["flood-a"])
        let cp = try await ControlPlaneUnderTest.start("e2e_flood", apiConnections: 2)
        let engines = try await enginesStarting
        let tenant = try await cp.makeTenant("flood")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: engines)
        let watcher = try PostgresConnection.connect(cp.database.pool.configuration.connection)
        defer { watcher.close() }
        let deadline = ContinuousClock.now + .seconds(10)
        let flooders = (0..<48).map { n in
            Task {
                var answered = 0
                while ContinuousClock.now < deadline {
                    let path = n % 2 == 0 ? "/v1/apps?limit=100" : "/v1/nodes?limit=100"
                    if (try? await cp.call(.get, path, token: tenant.admin)) != nil { answered += 1 }
                }
                return answered
            }
        }
        var statuses: Set<String> = []
        while ContinuousClock.now < deadline {
            for row in try watcher.query("SELECT status FROM nodes") { statuses.insert(try row.decode("status")) }
            try await Task.sleep(for: .milliseconds(200))
        }
        var answered = 0
        for flooder in flooders { answered += await flooder.value }
        print("flood: \(answered) API answers in 10 s; node statuses seen: \(statuses.sorted())")
        #expect(statuses == ["ready"], "a node changed status under the flood: \(statuses.sorted())")
        await agent.stop()
        await cp.stop()
    }
}
