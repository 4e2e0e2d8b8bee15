import CaaSAgent
import CaaSModel
import Foundation
import Testing

/// What the agent asks the engine for a container's named volumes, and which volumes it removes.
@Suite struct VolumePlanTests {
    static let container = DesiredContainer(containerId: "ctr_1", tenantId: "ten_1", appId: "app_a", appName: "blog",
                                            serviceName: "db", slot: 1, generation: 1, image: "img")

    @Test func aNamedVolumeIsCreatedWithItsDriverOptionsLabelsAndOwner() throws {
        let volume = DesiredVolume(kind: .volume, source: "caas_ten_1_app_a_data", target: "/data", driver: "ossfs",
                                   driverOptions: ["bucket": "blog-bucket"], labels: ["tier": "db", "caas.app": "app_forged"],
                                   declaredName: "data")
        let body = try #require(VolumeCreateBody(volume, of: Self.container, clusterId: "clu_1"))
        #expect(body.name == "caas_ten_1_app_a_data")
        #expect(body.driver == "ossfs")
        #expect(body.driverOpts == ["bucket": "blog-bucket"])
        #expect(body.labels == ["tier": "db", "caas.cluster": "clu_1", "caas.tenant": "ten_1", "caas.app": "app_a", "caas.volume": "data"],
                "compose labels cannot forge caas's")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        #expect(Set(json.keys) == ["Name", "Driver", "DriverOpts", "Labels"])
    }

    @Test func withoutADriverTheEngineDefaultLocalIsNamed() throws {
        let volume = DesiredVolume(kind: .volume, source: "caas_ten_1_app_a_data", target: "/data", declaredName: "data")
        #expect(try #require(VolumeCreateBody(volume, of: Self.container, clusterId: "clu_1")).driver == "local")
    }

    @Test func externalVolumesBindsAndTmpfsAreNeverCreated() {
        let external = DesiredVolume(kind: .volume, source: "team-share", target: "/s", declaredName: "shared", external: true)
        #expect(VolumeCreateBody(external, of: Self.container, clusterId: "clu_1") == nil)
        #expect(VolumeCreateBody(DesiredVolume(kind: .bind, source: "/srv", target: "/srv"), of: Self.container, clusterId: "clu_1") == nil)
        #expect(VolumeCreateBody(DesiredVolume(kind: .tmpfs, target: "/t"), of: Self.container, clusterId: "clu_1") == nil)
    }

    @Test func removalTakesOnlyVolumesCaasMadeForTheListedApplicationInThisCluster() {
        func volume(_ name: String, cluster: String? = "clu_1", tenant: String? = "ten_1", app: String?) -> EngineVolume {
            var labels: [String: String] = [:]
            labels["caas.cluster"] = cluster
            labels["caas.tenant"] = tenant
            labels["caas.app"] = app
            return EngineVolume(name: name, labels: labels)
        }
        let observed = [
            volume("caas_ten_1_app_a_data", app: "app_a"),
            volume("caas_ten_1_app_a_logs", app: "app_a"),
            volume("caas_ten_1_app_b_data", app: "app_b"),
            volume("other_cluster", cluster: "clu_2", app: "app_a"),
            volume("other_tenant", tenant: "ten_2", app: "app_a"),
            EngineVolume(name: "team-share"),
        ]
        let chosen = VolumeRemovalPlan.volumesToRemove(clusterId: "clu_1", removals: [VolumeRemoval(tenantId: "ten_1", appId: "app_a")],
                                                       observed: observed)
        #expect(chosen == ["caas_ten_1_app_a_data", "caas_ten_1_app_a_logs"])
        #expect(VolumeRemovalPlan.volumesToRemove(clusterId: "clu_1", removals: [], observed: observed).isEmpty)
    }

    @Test func engineVolumesDecodeWithNullLabelsAndOptions() throws {
        let text = #"{"Name":"v","Driver":"local","Labels":null,"Options":null,"Mountpoint":"/var/lib/docker/volumes/v/_data","Scope":"local"}"#
        let volume = try JSONDecoder().decode(EngineVolume.self, from: Data(text.utf8))
        #expect(volume == EngineVolume(name: "v", mountpoint: "/var/lib/docker/volumes/v/_data"))
    }
}
