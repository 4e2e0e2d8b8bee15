import CaaSModel
import CaaSPostgres
@testable import CaaSStore
import Foundation
import Testing

@Suite struct ResourcesStoreTests {
    /// A tenant with a cluster, a node, an application from an image and its service.
    func seed(_ db: StoreTestDatabase, name: String) async throws -> (tenant: String, cluster: String, node: String, app: String, service: String) {
        let tenant = Identifier.make(.tenant)
        _ = try await db.store.systemTransaction { try $0.createTenant(id: tenant, name: name, displayName: name, quotas: [:]) }
        let quotas = QuotaDefaults()
        return try await db.store.transaction(TenantScope(tenantID: tenant)) { tx in
            let cluster = try tx.createCluster(NewCluster(id: Identifier.make(.cluster), name: "prod", description: "", labels: [:],
                                                          network: IPv4Network("10.42.0.0/16")!, nodeSubnetPrefix: 24,
                                                          joinTokenDigestHex: String(repeating: name.hasPrefix("a") ? "a" : "b", count: 64)),
                                               quotas: quotas)
            let node = try tx.createNode(NewNode(id: Identifier.make(.node), clusterID: cluster.id, name: "n1", engineEndpoint: "unix:///x.sock",
                                                 engineTLS: false, labels: ["az": "1"], capacityCPUs: 2, capacityMemory: 1 << 30), quotas: quotas)
            let spec = AppSpec(services: [ServiceSpec(name: "web", image: "nginx", replicas: 2)])
            let (app, _) = try tx.createApplication(NewApplication(id: Identifier.make(.application), clusterID: cluster.id, name: "web",
                                                                   description: "", definition: ApplicationDefinition(source: .image, spec: spec)),
                                                    quotas: quotas)
            let service = try tx.services(applicationID: app.id, limit: 10, after: nil)[0].0
            return (tenant, cluster.id, node.id, app.id, service.id)
        }
    }

    @Test func resourceTablesAreInvisibleWithoutAScope() async throws {
        let db = try await StoreTestDatabase.make("res_rls")
        let alpha = try await seed(db, name: "alpha")
        _ = try await seed(db, name: "beta")
        for table in ["clusters", "nodes", "applications", "services", "deployments", "jobs"] {
            #expect(try await db.rawCount(table) == 0, "\(table) is visible without a scope")
            #expect(try await db.rawCount(table, tenant: alpha.tenant) == 1, "\(table) in alpha's scope")
            #expect(try await db.rawCount(table, system: true) == 2, "\(table) in the system scope")
        }
        // Writing a row for another tenant is refused by the policy's WITH CHECK.
        let refused = try await db.database.pool.withConnection { connection -> Bool in
            do {
                try connection.transaction { connection in
                    _ = try connection.query("SELECT set_config('role', 'caas_app', true), set_config('caas.tenant_id', $1, true)", [alpha.tenant])
                    _ = try connection.execute("UPDATE applications SET tenant_id = 'ten_other' WHERE id = $1", [alpha.app])
                }
                return false
            } catch { return true }
        }
        #expect(refused)
    }

    @Test func observedStateOnlyMovesForwardInSQLToo() async throws {
        let db = try await StoreTestDatabase.make("res_observed")
        let seeded = try await seed(db, name: "alpha")
        let scope = TenantScope(tenantID: seeded.tenant)
        let id = Identifier.make(.container)
        let created = try await db.store.transaction(scope) { tx in
            try tx.createContainer(NewContainer(id: id, serviceID: seeded.service, nodeID: seeded.node, slot: 0, generation: 1), quotas: QuotaDefaults())
        }
        #expect(created.observedState == .assigned)
        // Agent reports, applied as the agent endpoint applies them.
        let t0 = Date()
        func report(_ sequence: Int64, _ observation: ContainerObservation) async throws -> (outcome: ReportOutcome, container: ContainerRecord?) {
            let report = AgentReport(clusterId: seeded.cluster, sequence: sequence, appliedGeneration: 1, sentAt: observation.observedAt,
                                     containers: [observation], nodes: [])
            let outcome = try await db.store.systemTransaction { try $0.applyReport(report, clusterID: seeded.cluster) }
            return (outcome, try await db.store.transaction(scope) { try $0.container(id) })
        }
        let running = try await report(1, ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, startedAt: t0, observedAt: t0))
        #expect(running.outcome.transitions == 1)
        #expect(running.container?.observedState == .running)
        #expect(running.container?.startedAt.map { abs($0.timeIntervalSince(t0)) < 0.001 } == true)
        // A late "starting" report is skipped, not applied: the state and version stay.
        let late = try await report(2, ContainerObservation(containerId: id, nodeId: seeded.node, state: .starting,
                                                            observedAt: t0.addingTimeInterval(1)))
        #expect(late.outcome.transitions == 0)
        #expect(late.container?.observedState == .running)
        #expect(late.container?.version == running.container?.version)
        let exited = try await report(3, ContainerObservation(containerId: id, nodeId: seeded.node, state: .exited, exitCode: 137,
                                                              finishedAt: t0.addingTimeInterval(2), observedAt: t0.addingTimeInterval(2)))
        #expect(exited.outcome.transitions == 1)
        #expect(exited.container?.observedState == .exited)
        #expect(exited.container?.exitCode == 137)
        #expect(exited.container?.finishedAt != nil)
        // A stale "running" (observed before the exit) does not bring it back.
        let stale = try await report(4, ContainerObservation(containerId: id, nodeId: seeded.node, state: .running,
                                                             startedAt: t0, observedAt: t0.addingTimeInterval(1.5)))
        #expect(stale.outcome.transitions == 0)
        #expect(stale.container?.observedState == .exited)
        // Restarted in place by its agent (out of reach of the control plane), observed later: it runs again.
        let again = try await report(5, ContainerObservation(containerId: id, nodeId: seeded.node, state: .running,
                                                             startedAt: t0.addingTimeInterval(3), observedAt: t0.addingTimeInterval(3)))
        #expect(again.outcome.transitions == 1)
        #expect(again.container?.observedState == .running)
        // Lost with its node and seen again, later, still running: found.
        _ = try await db.database.pool.withConnection { try $0.execute("UPDATE containers SET observed_state = 'lost' WHERE id = $1", [id]) }
        let found = try await report(6, ContainerObservation(containerId: id, nodeId: seeded.node, state: .running,
                                                             startedAt: t0.addingTimeInterval(3), observedAt: t0.addingTimeInterval(4)))
        #expect(found.outcome.transitions == 1)
        #expect(found.container?.observedState == .running)
        _ = try await report(7, ContainerObservation(containerId: id, nodeId: seeded.node, state: .exited, exitCode: 137,
                                                     finishedAt: t0.addingTimeInterval(5), observedAt: t0.addingTimeInterval(5)))
        // Any other backwards write is refused by the trigger: a container no longer wanted does not run again.
        let refused = try await db.database.pool.withConnection { connection -> String? in
            do {
                _ = try connection.execute("UPDATE containers SET observed_state = 'running', desired_state = 'removed' WHERE id = $1", [id])
                return nil
            } catch let error as PostgresError { return error.sqlState }
        }
        #expect(refused == "23514")
        // Nor does one that was replaced, whatever its agent says.
        _ = try await db.database.pool.withConnection { try $0.execute("UPDATE containers SET replaced_by = 'ctr_next' WHERE id = $1", [id]) }
        let replaced = try await report(8, ContainerObservation(containerId: id, nodeId: seeded.node, state: .running,
                                                                startedAt: t0.addingTimeInterval(6), observedAt: t0.addingTimeInterval(6)))
        #expect(replaced.outcome.transitions == 0)
        #expect(replaced.container?.observedState == .exited)
        let lateral = try await db.database.pool.withConnection { connection -> String? in
            do {
                _ = try connection.execute("UPDATE containers SET observed_state = 'failed' WHERE id = $1", [id])
                return nil
            } catch let error as PostgresError { return error.sqlState }
        }
        #expect(lateral == "23514", "exited → failed is sideways, not forward")
        let service = try await db.store.transaction(scope) { try $0.service(seeded.service) }
        #expect(service?.runningReplicas == 0)
    }

    @Test func reportsRecordWhereAContainerServesAndNeverBlankOrRewindIt() async throws {
        let db = try await StoreTestDatabase.make("res_address")
        let seeded = try await seed(db, name: "alpha")
        let other = try await seed(db, name: "beta")
        let scope = TenantScope(tenantID: seeded.tenant)
        let id = Identifier.make(.container)
        _ = try await db.store.transaction(scope) { tx in
            try tx.createContainer(NewContainer(id: id, serviceID: seeded.service, nodeID: seeded.node, slot: 0, generation: 1), quotas: QuotaDefaults())
        }
        var sequence: Int64 = 0
        func report(_ observation: ContainerObservation, cluster: String? = nil) async throws -> (outcome: ReportOutcome, container: ContainerRecord?) {
            sequence += 1
            let report = AgentReport(clusterId: cluster ?? seeded.cluster, sequence: sequence, appliedGeneration: 1, sentAt: observation.observedAt,
                                     containers: [observation], nodes: [])
            let outcome = try await db.store.systemTransaction { try $0.applyReport(report, clusterID: cluster ?? seeded.cluster) }
            return (outcome, try await db.store.transaction(scope) { try $0.container(id) })
        }
        let t0 = Date()
        #expect(try await db.store.transaction(scope) { try $0.container(id) }?.address == nil)

        let published = [DesiredPort(containerPort: 80, hostPort: 18080), DesiredPort(containerPort: 53, hostPort: 10053, hostAddress: "127.0.0.1", protocol: .udp)]
        let running = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, address: "127.0.0.1:18080",
                                                            ports: published, observedAt: t0))
        #expect(running.container?.address == "127.0.0.1:18080")
        #expect(running.container?.ports == [ContainerPort(containerPort: 80, hostPort: 18080, protocol: "tcp"),
                                             ContainerPort(containerPort: 53, hostPort: 10053, hostAddress: "127.0.0.1", protocol: "udp")])

        // A newer observation that does not say (an older agent, a failure, a removal) keeps them.
        let silent = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, health: .healthy,
                                                           observedAt: t0.addingTimeInterval(1)))
        let rebound = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, health: .healthy,
                                                            address: "127.0.0.1:18081", ports: published, observedAt: t0.addingTimeInterval(1)))
        #expect(rebound.container?.address == "127.0.0.1:18081")
        #expect(rebound.container.map(\.version) == silent.container.map { $0.version + 1 }, "a new address is a new version (ETag)")
        let back = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, health: .healthy,
                                                         address: "127.0.0.1:18080", ports: published, observedAt: t0.addingTimeInterval(1)))
        #expect(back.container.map(\.version) == rebound.container.map { $0.version + 1 })
        #expect(silent.container?.health == .healthy)
        #expect(silent.container?.address == "127.0.0.1:18080")
        #expect(silent.container?.ports.count == 2)

        // A stale observation cannot replace them.
        let stale = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, address: "127.0.0.1:20001",
                                                          ports: [], observedAt: t0.addingTimeInterval(-5)))
        #expect(stale.container?.address == "127.0.0.1:18080")
        #expect(stale.container?.ports.count == 2)
        #expect(stale.container?.health == .healthy, "nor health: the stale report says unknown")
        #expect(stale.container?.observedAt.map { abs($0.timeIntervalSince(t0.addingTimeInterval(1))) < 0.001 } == true,
                "the last observation's time does not go back either")
        let staler = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, address: "127.0.0.1:20004",
                                                           observedAt: t0.addingTimeInterval(-4)))
        #expect(staler.container?.address == "127.0.0.1:18080")

        // Nor can a report naming another node, or coming from another cluster's agent.
        let otherNode = try await report(ContainerObservation(containerId: id, nodeId: other.node, state: .running, address: "127.0.0.1:20002",
                                                              observedAt: t0.addingTimeInterval(10)))
        #expect(otherNode.outcome.unknown == 1)
        #expect(otherNode.container?.address == "127.0.0.1:18080")
        let otherCluster = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, address: "127.0.0.1:20003",
                                                                 observedAt: t0.addingTimeInterval(10)), cluster: other.cluster)
        #expect(otherCluster.outcome.unknown == 1)
        #expect(otherCluster.container?.address == "127.0.0.1:18080")

        // A newer observation that says moves them on; an empty list is "none published".
        let moved = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .running, address: "[::1]:20345",
                                                          ports: [], observedAt: t0.addingTimeInterval(2)))
        #expect(moved.container?.address == "[::1]:20345")
        #expect(moved.container?.ports == [])
        let exited = try await report(ContainerObservation(containerId: id, nodeId: seeded.node, state: .exited, exitCode: 0,
                                                           observedAt: t0.addingTimeInterval(3)))
        #expect(exited.container?.observedState == .exited)
        #expect(exited.container?.address == "[::1]:20345", "where it served stays known")
    }

    @Test func nodeSubnetsMustBeBlocksOfTheirClusterNetwork() async throws {
        let db = try await StoreTestDatabase.make("res_subnet_check")
        let seeded = try await seed(db, name: "alpha")
        let error = try await db.database.pool.withConnection { connection -> String? in
            do {
                _ = try connection.execute("UPDATE nodes SET subnet = '10.43.0.0/24' WHERE id = $1", [seeded.node])
                return nil
            } catch let error as PostgresError { return error.sqlState }
        }
        #expect(error == "23514")
        let wrongSize = try await db.database.pool.withConnection { connection -> String? in
            do {
                _ = try connection.execute("UPDATE nodes SET subnet = '10.42.0.0/25' WHERE id = $1", [seeded.node])
                return nil
            } catch let error as PostgresError { return error.sqlState }
        }
        #expect(wrongSize == "23514")
    }
}
