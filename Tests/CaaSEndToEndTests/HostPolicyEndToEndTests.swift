import CaaSAgent
import CaaSEngineSupport
import CaaSModel
import Foundation
import Testing

/// The host stays the operator's (issue 11 item 4), over a real engine: the node's root is never
/// mounted; a directory the system administrator allows is, and the container sees the host's
/// file; privileged mode and an added capability reach the engine once allowed.
@Suite(.serialized) struct HostPolicyEndToEndTests {
    static let rootMount = """
        services:
          box:
            image: caas-test/busybox:latest
            command: ["sleep", "3600"]
            volumes:
              - /:/host
        """

    /// `box` binds a host directory and adds NET_ADMIN; `priv` asks for privileged mode (which
    /// the engine may fail to start where the test itself runs with fewer capabilities than
    /// privileged mode grants: what the engine was asked is what is checked).
    static func sharedMount(_ directory: String) -> String {
        """
        services:
          box:
            image: caas-test/busybox:latest
            command: ["sleep", "3600"]
            volumes:
              - \(directory):/shared:ro
            cap_add: [NET_ADMIN]
          priv:
            image: caas-test/busybox:latest
            command: ["sleep", "3600"]
            privileged: true
        """
    }

    @Test(.timeLimit(.minutes(3)))
    func theRootIsRefusedAndAnAllowedDirectoryIsMountedWithTheOptionsThePolicyAllows() async throws {
        async let enginesStarting = EngineHarness.shared.engines(["e2e-policy"])
        let cp = try await ControlPlaneUnderTest.start("e2e_policy")
        let engines = try await enginesStarting
        let tenant = try await cp.makeTenant("policy")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: engines)
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("caas-e2e-policy-\(getpid())").path
        let shared = base + "/shared"
        defer { try? FileManager.default.removeItem(atPath: base) }
        do {
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            try "from-the-host\n".write(toFile: shared + "/hello.txt", atomically: true, encoding: .utf8)

            // The root of the node: refused at its line, whatever the tenant asks.
            let root = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                         body: ["name": "root", "cluster_id": agent.clusterID, "compose": Self.rootMount])
            #expect(root.status == 422, "\(root.text)")
            #expect(root.text.contains(#""line":6,"path":"services.box.volumes[0]""#) && root.text.contains("never mountable"), "\(root.text)")

            // A directory, privileged mode and a capability: refused by the standard policy.
            let refused = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                            body: ["name": "box", "cluster_id": agent.clusterID, "compose": Self.sharedMount(shared)])
            #expect(refused.status == 422, "\(refused.text)")
            #expect(refused.text.contains(#""line":6"#) && refused.text.contains(#""line":7"#) && refused.text.contains(#""line":11"#), "\(refused.text)")
            #expect(await agent.running().isEmpty, "nothing reached the engine")

            // The system administrator allows the directory's parent, privileged mode and NET_ADMIN.
            let policy = try await cp.call(.put, "/v1/tenants/\(tenant.id)/policy", token: cp.systemToken,
                                           body: ["bind_prefixes": [base], "privileged": true, "capabilities": ["NET_ADMIN"]])
            #expect(policy.status == 200, "\(policy.text)")
            let root2 = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                          body: ["name": "root", "cluster_id": agent.clusterID, "compose": Self.rootMount])
            #expect(root2.status == 422, "the root stays refused: \(root2.text)")
            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                        body: ["name": "box", "cluster_id": agent.clusterID, "compose": Self.sharedMount(shared)])
            #expect(app.status == 202, "\(app.text)")
            let deployed = await eventually(.seconds(30)) { await agent.running(service: "box").count == 1 }
            if !deployed {
                let containers = try await cp.call(.get, "/v1/containers", token: tenant.operator)
                Issue.record("box was not deployed: \(containers.text)")
            }

            // What the engine was asked for, and what the container sees.
            let engine = await EngineHarness.shared.engineClient(engines[0])
            let containerID = try #require(await agent.running(service: "box").keys.first)
            let engineID = try #require(try await EndToEndTests.containers(engines[0], cluster: agent.clusterID)[containerID]?.engineId)
            let details = try await engine.inspectContainer(engineID)
            let mount = try #require(details.mounts?.first { $0.destination == "/shared" }, "\(String(describing: details.mounts))")
            #expect(mount.type == "bind" && mount.source == shared && mount.readWrite == false, "\(mount)")
            #expect(details.mounts?.contains { $0.destination == "/host" || $0.source == "/" } == false)
            #expect(details.hostConfig.privileged != true)
            #expect(details.hostConfig.capAdd?.contains { $0 == "NET_ADMIN" || $0 == "CAP_NET_ADMIN" } == true,
                    "\(String(describing: details.hostConfig.capAdd))")
            #expect(try await engine.run(["sh", "-c", "c=$(grep CapEff /proc/self/status | cut -f2); test $(( 0x$c >> 12 & 1 )) -eq 1"],
                                         in: engineID, timeoutSeconds: 5) == 0, "the container holds CAP_NET_ADMIN")
            #expect(try await engine.run(["sh", "-c", "grep -qx from-the-host /shared/hello.txt"], in: engineID, timeoutSeconds: 5) == 0,
                    "the container reads the host's file")
            #expect(try await engine.run(["sh", "-c", "test ! -e /shared/../host"], in: engineID, timeoutSeconds: 5) == 0)

            // The privileged service: the engine was asked for privileged mode.
            var privileged: ContainerDetails?
            let created = try await eventually(.seconds(30)) {
                guard let id = try await EndToEndTests.containers(engines[0], cluster: agent.clusterID).values.first(where: { $0.service == "priv" })?.engineId
                else { return false }
                privileged = try await engine.inspectContainer(id)
                return true
            }
            #expect(created, "the privileged service's container was created")
            #expect(privileged?.hostConfig.privileged == true, "\(String(describing: privileged?.hostConfig))")
        } catch {
            Issue.record(error)
        }
        await agent.stop()
        await cp.stop()
    }
}
