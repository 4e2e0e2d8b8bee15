import CaaSModel
import CaaSPostgres
@testable import CaaSStore
import Foundation
import Testing

/// `DELETE /v1/apps/{id}?volumes=true` in the store: the removal is recorded for the cluster,
/// pushed, and forgotten once an agent applied a push read after the application was gone.
@Suite struct VolumeRemovalStoreTests {
    /// A tenant with a cluster and two applications declaring the volume `data` (none placed).
    func seed(_ db: StoreTestDatabase) async throws -> (tenant: String, cluster: String, apps: [String]) {
        let tenant = Identifier.make(.tenant)
        _ = try await db.store.systemTransaction { try $0.createTenant(id: tenant, name: "vol", displayName: "vol", quotas: [:]) }
        let quotas = QuotaDefaults()
        return try await db.store.transaction(TenantScope(tenantID: tenant)) { tx in
            let cluster = try tx.createCluster(NewCluster(id: Identifier.make(.cluster), name: "prod", description: "", labels: [:],
                                                          network: IPv4Network("10.42.0.0/16")!, nodeSubnetPrefix: 24,
                                                          joinTokenDigestHex: String(repeating: "c", count: 64)),
                                               quotas: quotas)
            let spec = AppSpec(services: [ServiceSpec(name: "db", image: "mysql", volumes: [VolumeMount(kind: .volume, source: "data", target: "/d")])],
                               volumes: [VolumeSpec(name: "data")])
            var apps: [String] = []
            for name in ["kept", "wiped"] {
                let (app, _) = try tx.createApplication(NewApplication(id: Identifier.make(.application), clusterID: cluster.id, name: name,
                                                                       description: "", definition: ApplicationDefinition(source: .compose, spec: spec)),
                                                        quotas: quotas)
                apps.append(app.id)
            }
            return (tenant, cluster.id, apps)
        }
    }

    @Test func volumesAreRemovedOnlyWhenAskedAndTheRemovalIsPushedThenForgotten() async throws {
        let db = try await StoreTestDatabase.make("vol_removal")
        let seeded = try await seed(db)
        let scope = TenantScope(tenantID: seeded.tenant)
        let before = try #require(try await db.store.systemTransaction { try $0.desiredGeneration(clusterID: seeded.cluster) })

        // Without volumes=true nothing is recorded.
        let kept = try await db.store.transaction(scope) { try $0.deleteApplication(seeded.apps[0], expectedVersion: nil) }
        #expect(kept == .deleted)
        #expect(try await db.store.systemTransaction { try $0.desiredState(clusterID: seeded.cluster) }?.state.volumeRemovals == [])

        // With it, the removal is recorded, and since no container was left to wait for, pushed now.
        let wiped = try await db.store.transaction(scope) { try $0.deleteApplication(seeded.apps[1], expectedVersion: nil, removeVolumes: true) }
        #expect(wiped == .deleted)
        let push = try #require(try await db.store.systemTransaction { try $0.desiredState(clusterID: seeded.cluster) })
        #expect(push.state.volumeRemovals == [VolumeRemoval(tenantId: seeded.tenant, appId: seeded.apps[1])])
        #expect(push.settledVolumeRemovals == [seeded.apps[1]], "the application is gone: one applied push removes its volumes")
        #expect(push.state.generation > before, "a new desired generation carries the removal")
        let queued = try await db.database.pool.withConnection { connection in
            try connection.query("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'push' AND payload->>'cluster_id' = $1 AND state = 'queued'",
                                 [seeded.cluster])[0].decode("n", as: Int.self)
        }
        #expect(queued == 1, "a push of the cluster is queued")

        // The row is the tenant's (row-level security) and goes once an agent applied the push.
        #expect(try await db.rawCount("volume_removals") == 0)
        #expect(try await db.rawCount("volume_removals", tenant: seeded.tenant) == 1)
        #expect(try await db.rawCount("volume_removals", tenant: "ten_other") == 0)
        try await db.store.systemTransaction { try $0.forgetVolumeRemovals(clusterID: seeded.cluster, applicationIDs: push.settledVolumeRemovals) }
        #expect(try await db.store.systemTransaction { try $0.desiredState(clusterID: seeded.cluster) }?.state.volumeRemovals == [])
    }
}
