import CaaSAgent
import CaaSEngineSupport
import CaaSModel
import Foundation
import Testing

/// A service that gives things up gets exactly that, over a real engine (issue 11 item 7: these
/// keys were "ignored", so a container asked to run as an unprivileged user, read-only, without
/// capabilities, ran as root with all of them). Checked where a user would look: what the engine
/// was asked to create, and what the process inside the running container is.
@Suite(.serialized) struct ProcessOptionsEndToEndTests {
    static let locked = """
        services:
          locked:
            image: caas-test/busybox:latest
            command: ["sleep", "3600"]
            user: "1234:1234"
            group_add: ["4321"]
            working_dir: /tmp
            read_only: true
            cap_drop: [ALL]
            security_opt: [no-new-privileges]
            pids_limit: 64
            stop_signal: SIGINT
            sysctls:
              kernel.shmmax: "1048576"
        """

    @Test(.timeLimit(.minutes(3)))
    func theContainerRunsAsTheGivenUserReadOnlyWithoutCapabilitiesOrNewPrivileges() async throws {
        async let enginesStarting = EngineHarness.shared.engines(["e2e-process"])
        let cp = try await ControlPlaneUnderTest.start("e2e_process")
        let engines = try await enginesStarting
        let tenant = try await cp.makeTenant("process")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: engines)
        do {
            let validated = try await cp.call(.post, "/v1/templates/validate", token: tenant.operator, body: ["compose": Self.locked])
            #expect(validated.status == 200 && !validated.text.contains("ignored"), "\(validated.text)")
            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                        body: ["name": "locked", "cluster_id": agent.clusterID, "compose": Self.locked])
            #expect(app.status == 202, "\(app.text)")
            let deployed = await eventually(.seconds(30)) { await agent.running(service: "locked").count == 1 }
            if !deployed {
                let containers = try await cp.call(.get, "/v1/containers", token: tenant.operator)
                Issue.record("locked was not deployed: \(containers.text)")
            }
            let engine = await EngineHarness.shared.engineClient(engines[0])
            let containerID = try #require(await agent.running(service: "locked").keys.first)
            let engineID = try #require(try await EndToEndTests.containers(engines[0], cluster: agent.clusterID)[containerID]?.engineId)

            // What the engine was asked for.
            let details = try await engine.inspectContainer(engineID)
            #expect(details.config.user == "1234:1234" && details.config.workingDir == "/tmp" && details.config.stopSignal == "SIGINT",
                    "\(details.config)")
            #expect(details.hostConfig.readonlyRootfs == true)
            #expect(details.hostConfig.capDrop == ["ALL"], "\(String(describing: details.hostConfig.capDrop))")
            #expect(details.hostConfig.securityOpt == ["no-new-privileges:true"], "\(String(describing: details.hostConfig.securityOpt))")
            #expect(details.hostConfig.pidsLimit == 64)
            #expect(details.hostConfig.groupAdd == ["4321"])
            #expect(details.hostConfig.sysctls == ["kernel.shmmax": "1048576"])

            // What the process inside is.
            func holds(_ script: String) async throws -> Bool {
                try await engine.run(["sh", "-c", script], in: engineID, timeoutSeconds: 5) == 0
            }
            #expect(try await holds(#"[ "$(busybox id -u)" = 1234 ] && [ "$(busybox id -g)" = 1234 ]"#), "runs as 1234:1234")
            #expect(try await holds(#"busybox id -G | grep -qw 4321"#), "holds the added group")
            #expect(try await holds(#"[ "$(pwd)" = /tmp ]"#), "starts in the working directory")
            #expect(try await holds(#"grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status"#), "holds no capability")
            #expect(try await holds(#"grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status"#), "gains no new privileges")
            #expect(try await holds(#"grep -Eq '^[^ ]+ / [^ ]+ ro[, ]' /proc/mounts"#), "the root file system is read-only")
            #expect(try await holds(#"[ "$(cat /proc/sys/kernel/shmmax)" = 1048576 ]"#), "the sysctl is set in its own IPC namespace")
        } catch {
            Issue.record(error)
        }
        await agent.stop()
        await cp.stop()
    }
}
