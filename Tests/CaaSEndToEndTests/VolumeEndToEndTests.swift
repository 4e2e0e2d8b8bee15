import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import CaaSPostgres
import Foundation
import Testing

/// Volumes belong to their application (issue 11 item 3), over a real engine: a caas-server in
/// this process, a joined agent, one dockerd as the cluster's node.
@Suite(.serialized) struct VolumeEndToEndTests {
    /// A service mounting the named volume `data`, declared with the `local` driver on tmpfs (so
    /// its options are real on these engines) and a label; `writes` puts a file in it.
    static func compose(writes: Bool) -> String {
        let command = writes ? #"["sh", "-c", "echo from-a > /data/owner && exec sleep 3600"]"# : #"["sleep", "3600"]"#
        return """
            services:
              box:
                image: caas-test/busybox:latest
                command: \(command)
                volumes:
                  - data:/data
            volumes:
              data:
                driver: local
                driver_opts:
                  type: tmpfs
                  device: tmpfs
                  o: size=1m
                labels:
                  com.example.purpose: e2e
            """
    }

    @Test(.timeLimit(.minutes(3)))
    func namedVolumesAreTheApplicationsOwnCarryTheirOptionsAndGoOnlyWhenAsked() async throws {
        async let enginesStarting = EngineHarness.shared.engines(["e2e-vol"])
        let cp = try await ControlPlaneUnderTest.start("e2evol")
        let engines = try await enginesStarting
        let engine = await EngineHarness.shared.engineClient(engines[0])
        let tenant = try await cp.makeTenant("vol")
        let agent = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "vol", engines: engines)
        let clusterID = agent.clusterID

        do {
            // Two applications of one tenant, both declaring the volume `data`.
            var appIDs: [String] = []
            for (name, writes) in [("vol-a", true), ("vol-b", false)] {
                let app = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                            body: ["name": name, "cluster_id": clusterID, "compose": Self.compose(writes: writes)])
                #expect(app.status == 202 || app.status == 201, "\(app.text)")
                appIDs.append(try #require(app["id"] as? String, "\(app.text)"))
            }
            let (appA, appB) = (appIDs[0], appIDs[1])
            func engineContainer(_ app: String) async -> String? {
                let listed = try? await engine.listContainers(labels: ["caas.cluster=\(clusterID)", "caas.app=\(app)"])
                return listed?.first { $0.state == "running" }?.id
            }
            let running = await eventually(.seconds(30)) {
                let a = await engineContainer(appA)
                let b = await engineContainer(appB)
                return a != nil && b != nil
            }
            try #require(running, "both applications run")
            let containerA = try #require(await engineContainer(appA))
            let containerB = try #require(await engineContainer(appB))

            // A's file is in A's volume, and not in B's: they are two engine volumes.
            let written = try await eventually(.seconds(10)) { try await engine.run(["sh", "-c", "test -f /data/owner"], in: containerA, timeoutSeconds: 5) == 0 }
            #expect(written, "app A wrote its file")
            #expect(try await engine.run(["sh", "-c", "test ! -e /data/owner"], in: containerB, timeoutSeconds: 5) == 0,
                    "app B must not see app A's file")
            #expect(try await engine.run(["sh", "-c", "grep ' /data tmpfs ' /proc/mounts"], in: containerA, timeoutSeconds: 5) == 0,
                    "the volume is the tmpfs its driver_opts asked for")

            // What the engine was asked to create: one volume per application, named for its owner,
            // with the declared driver, options and labels, and ours.
            var names: [String: String] = [:]
            for app in [appA, appB] {
                let volumes = try await engine.listVolumes(labels: ["caas.cluster=\(clusterID)", "caas.app=\(app)"])
                #expect(volumes.count == 1, "\(app): \(volumes)")
                guard let volume = volumes.first else { continue }
                names[app] = volume.name
                #expect(volume.name == VolumeNaming.ownedName("data", tenantId: tenant.id, appId: app))
                #expect(volume.driver == "local")
                #expect(volume.options == ["type": "tmpfs", "device": "tmpfs", "o": "size=1m"])
                #expect(volume.labels["com.example.purpose"] == "e2e")
                #expect(volume.labels["caas.tenant"] == tenant.id && volume.labels["caas.volume"] == "data")
            }
            #expect(try await engine.listVolumes().contains { $0.name == "data" } == false, "no shared volume `data`")
            let (volumeA, volumeB) = (try #require(names[appA]), try #require(names[appB]))

            // A bad `volumes` value is refused, naming the parameter.
            let bad = try await cp.call(.delete, "/v1/apps/\(appA)?volumes=maybe", token: tenant.operator)
            #expect(bad.status == 400 && bad.text.contains(#""pointer":"volumes""#) && bad.text.contains("volumes must be one of true, false"), "\(bad.text)")

            // Deleting A without volumes=true keeps its volume.
            let deleteA = try await cp.call(.delete, "/v1/apps/\(appA)", token: tenant.operator)
            #expect(deleteA.status == 202 || deleteA.status == 204, "\(deleteA.text)")
            let goneA = try await eventually(.seconds(30)) { try await cp.call(.get, "/v1/apps/\(appA)", token: tenant.operator).status == 404 }
            #expect(goneA, "app A is deleted")

            // Deleting B with volumes=true removes its volume, once its container is gone.
            let deleteB = try await cp.call(.delete, "/v1/apps/\(appB)?volumes=true", token: tenant.operator)
            #expect(deleteB.status == 202 || deleteB.status == 204, "\(deleteB.text)")
            let removedB = try await eventually(.seconds(30)) {
                let volume = try? await engine.inspectVolume(volumeB)
                let app = try await cp.call(.get, "/v1/apps/\(appB)", token: tenant.operator)
                return volume == nil && app.status == 404
            }
            #expect(removedB, "app B's volume is removed with volumes=true")
            let keptA = try? await engine.inspectVolume(volumeA)
            #expect(keptA?.name == volumeA, "app A's volume stays without volumes=true")
            let forgotten = await eventually(.seconds(10)) {
                let count = try? await cp.database.pool.withConnection {
                    try $0.query("SELECT count(*)::int8 AS n FROM volume_removals").first?.decode("n", as: Int64.self)
                }
                return count == 0
            }
            #expect(forgotten, "the removal is forgotten once the agent applied it")
        } catch {
            Issue.record(error)
        }
        await agent.stop()
        for volume in (try? await engine.listVolumes(labels: ["caas.cluster=\(clusterID)"])) ?? [] {
            try? await engine.removeVolume(volume.name)
        }
        await cp.stop()
    }
}
