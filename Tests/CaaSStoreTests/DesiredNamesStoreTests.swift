import CaaSModel
import CaaSPostgres
@testable import CaaSStore
import Foundation
import Testing

/// What the desired state tells the agent about names (issue 15 item 4): each node's network names
/// its name server's address, and each container on a caas network the names of its application
/// it resolves — services, `links` aliases, `external:` services — and no other application's.
@Suite struct DesiredNamesStoreTests {
    @Test func containersOnCaasNetworksCarryTheirApplicationsNamesAndNodesTheirNameServer() async throws {
        let db = try await StoreTestDatabase.make("desired_names")
        let tenant = Identifier.make(.tenant)
        _ = try await db.store.systemTransaction { try $0.createTenant(id: tenant, name: "names", displayName: "names", quotas: [:]) }
        let quotas = QuotaDefaults()
        let wordpress = ServiceSpec(name: "wordpress", image: "wordpress", links: [ServiceLink(target: "db", alias: "mysql")])
        var dbService = ServiceSpec(name: "db", image: "mysql")
        dbService.networkAliases = ["database"]
        let spec = AppSpec(services: [wordpress, dbService],
                           externalServices: [ExternalServiceSpec(name: "rds", host: "rds-1.example.com", ports: [3306])])
        let (cluster, node, apps) = try await db.store.transaction(TenantScope(tenantID: tenant)) { tx in
            let cluster = try tx.createCluster(NewCluster(id: Identifier.make(.cluster), name: "prod", description: "", labels: [:],
                                                          network: IPv4Network("198.18.64.0/18")!, nodeSubnetPrefix: 24,
                                                          joinTokenDigestHex: String(repeating: "c", count: 64), networking: .nodeSubnets),
                                               quotas: quotas)
            let node = try tx.createNode(NewNode(id: Identifier.make(.node), clusterID: cluster.id, name: "n1", engineEndpoint: "unix:///x",
                                                 engineTLS: false, labels: [:], capacityCPUs: 4, capacityMemory: 1 << 32), quotas: quotas)
            var apps: [String] = []
            for (name, spec) in [("wp", spec), ("other", AppSpec(services: [ServiceSpec(name: "db", image: "mysql")]))] {
                let (app, _) = try tx.createApplication(NewApplication(id: Identifier.make(.application), clusterID: cluster.id, name: name,
                                                                       description: "", definition: ApplicationDefinition(source: .compose, spec: spec)),
                                                        quotas: quotas)
                apps.append(app.id)
            }
            return (cluster.id, node, apps)
        }
        // One wordpress container placed on the node at an address (as placement does).
        let subnet = try #require(IPv4Network(node.subnet))
        let address = try #require(ContainerAddressAllocator.pick(1, in: subnet, held: []).first)
        try await db.database.pool.withConnection { connection in
            _ = try connection.execute("""
                INSERT INTO containers (id, tenant_id, application_id, service_id, node_id, slot, generation, ip_address)
                SELECT 'ctr_names1', tenant_id, application_id, id, $2, 1, generation, $3::inet
                FROM services WHERE application_id = $1 AND name = 'wordpress'
                """, [apps[0], node.id, address])
        }
        let push = try #require(try await db.store.systemTransaction { try $0.desiredState(clusterID: cluster) })
        let state = try #require(push.state.node(node.id))
        #expect(state.network?.nameServer == ContainerAddressAllocator.nameServer(of: subnet))
        let container = try #require(state.containers.first)
        #expect(container.names == [DesiredName(name: "mysql", service: "db"), DesiredName(name: "db", service: "db"),
                                    DesiredName(name: "wordpress", service: "wordpress"), DesiredName(name: "database", service: "db"),
                                    DesiredName(name: "rds", target: "rds-1.example.com")],
                "its application's services, its links alias, db's network alias and its external service; never the other application's")
    }
}
