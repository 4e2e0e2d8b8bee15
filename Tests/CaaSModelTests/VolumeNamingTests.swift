import CaaSModel
import Foundation
import Testing

/// Volumes belong to their application (issue 11 item 3): engine names derive from the owner.
@Suite struct VolumeNamingTests {
    @Test func twoApplicationsDeclaringDataGetTwoEngineVolumes() {
        let data = VolumeSpec(name: "data")
        let a = VolumeNaming.engineName(of: data, tenantId: "ten_1", appId: "app_a")
        let b = VolumeNaming.engineName(of: data, tenantId: "ten_1", appId: "app_b")
        let other = VolumeNaming.engineName(of: data, tenantId: "ten_2", appId: "app_a")
        #expect(a == "caas_ten_1_app_a_data")
        #expect(b == "caas_ten_1_app_b_data")
        #expect(Set([a, b, other]).count == 3, "another application or tenant never shares the volume")
    }

    @Test func theNameIsDeterministicAndOnlyOfTheEngineCharacters() {
        let volume = VolumeSpec(name: "my.data-1")
        let name = VolumeNaming.engineName(of: volume, tenantId: "ten/ä b", appId: "")
        #expect(name == "caas_ten___b___my.data-1")
        #expect(name == VolumeNaming.engineName(of: volume, tenantId: "ten/ä b", appId: ""))
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        #expect(name.allSatisfy(allowed.contains))
        #expect(name.first?.isLetter == true)
    }

    @Test func aNonExternalVolumesNameReplacesItsKeyButStaysOwned() {
        let named = VolumeSpec(name: "data", externalName: "blog-data")
        #expect(VolumeNaming.engineName(of: named, tenantId: "ten_1", appId: "app_a") == "caas_ten_1_app_a_blog-data")
    }

    @Test func externalVolumesKeepTheirGivenName() {
        #expect(VolumeNaming.engineName(of: VolumeSpec(name: "shared", external: true), tenantId: "ten_1", appId: "app_a") == "shared")
        let renamed = VolumeSpec(name: "legacy", external: true, externalName: "legacy-volume-2016")
        #expect(VolumeNaming.engineName(of: renamed, tenantId: "ten_1", appId: "app_a") == "legacy-volume-2016")
    }

    @Test func aNamedMountCarriesItsDeclarationsDriverOptionsAndLabels() {
        let declared = ["data": VolumeSpec(name: "data", driver: "ossfs", driverOptions: ["bucket": "blog"], labels: ["tier": "db"])]
        let mount = DesiredVolume(VolumeMount(kind: .volume, source: "data", target: "/var/lib/mysql", readOnly: true),
                                  declared: declared, tenantId: "ten_1", appId: "app_a")
        #expect(mount == DesiredVolume(kind: .volume, source: "caas_ten_1_app_a_data", target: "/var/lib/mysql", readOnly: true,
                                       driver: "ossfs", driverOptions: ["bucket": "blog"], labels: ["tier": "db"],
                                       declaredName: "data", external: false))
    }

    @Test func anUndeclaredNamedMountIsOwnedWithTheEngineDefaults() {
        let mount = DesiredVolume(VolumeMount(kind: .volume, source: "cache", target: "/c"), declared: [:], tenantId: "ten_1", appId: "app_a")
        #expect(mount.source == "caas_ten_1_app_a_cache")
        #expect(mount.driver == nil && mount.driverOptions.isEmpty && !mount.external)
    }

    @Test func anExternalMountPassesByNameAndBindsAreUntouched() {
        let declared = ["shared": VolumeSpec(name: "shared", external: true, externalName: "team-share")]
        let external = DesiredVolume(VolumeMount(kind: .volume, source: "shared", target: "/s"), declared: declared, tenantId: "t", appId: "a")
        #expect(external.source == "team-share" && external.external)
        let bind = DesiredVolume(VolumeMount(kind: .bind, source: "/srv", target: "/srv"), declared: declared, tenantId: "t", appId: "a")
        #expect(bind == DesiredVolume(kind: .bind, source: "/srv", target: "/srv"))
    }
}

@Suite struct VolumeWireTests {
    @Test func volumeRemovalsTravelAndTheIncrementalEncoderWritesThemExactly() throws {
        var state = DesiredClusterState(clusterId: "clu_1", generation: 7, nodes: [], volumeRemovals: [VolumeRemoval(tenantId: "ten_1", appId: "app_a")])
        state.nodes = AgentWireTests.sampleState().nodes
        let bytes = try DesiredStateEncoder().encode(state)
        #expect(bytes == Array(try AgentWire.encoder().encode(state)))
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""volume_removals":[{"app_id":"app_a","tenant_id":"ten_1"}]"#))
        #expect(try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(bytes)) == state)
    }

    @Test func aStateAndMountsFromAnOlderControlPlaneDecodeWithoutVolumeFields() throws {
        let old = #"{"cluster_id":"clu_1","generation":2,"nodes":[]}"#
        let state = try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(old.utf8))
        #expect(state.volumeRemovals.isEmpty)
        let mount = #"{"kind":"volume","source":"data","target":"/d","read_only":false,"driver_options":{}}"#
        let volume = try AgentWire.decoder().decode(DesiredVolume.self, from: Data(mount.utf8))
        #expect(volume == DesiredVolume(kind: .volume, source: "data", target: "/d"))
    }
}
