import CaaSModel
import CaaSPlanner
import CaaSPostgres
import Foundation

/// One application as the reconciler reads it: the planner's snapshot plus what the apply needs
/// to check that nothing changed in between (optimistic concurrency).
public struct SchedulingSnapshot: Sendable {
    public var tenantID: String
    public var applicationID: String
    public var applicationName: String
    public var clusterID: String
    /// The application is being deleted: every container goes, then the rows.
    public var deleting: Bool
    public var generation: Int64
    public var snapshot: ClusterSnapshot
    /// Versions read, checked again at apply.
    var serviceVersions: [String: Int64]
    var containerVersions: [String: Int64]
    /// What every container of the cluster held on each node when read (this application's
    /// included): the apply checks that nobody else added to a target node meanwhile. The
    /// snapshots of one read share it.
    var nodeTotals: [String: NodeUsage]
    var serviceNames: [String: String]

    public func serviceName(_ id: String) -> String { serviceNames[id] ?? id }
}

/// A container's reservation, as stored on its row at placement.
struct Reservation {
    var cpus: Double
    var memoryBytes: Int64
    var hostPorts: [String]

    init() {
        (cpus, memoryBytes, hostPorts) = (0, 0, [])
    }

    mutating func add(_ other: Reservation) {
        cpus += other.cpus
        memoryBytes += other.memoryBytes
        hostPorts += other.hostPorts
    }

    init(_ spec: ServiceSpec) {
        cpus = spec.resources.reservations.cpus ?? 0
        memoryBytes = spec.resources.reservations.memoryBytes ?? 0
        var ports: [String] = []
        for mapping in spec.ports {
            guard let published = mapping.published else { continue }
            for port in published.lower...max(published.lower, published.upper) {
                ports.append(HostPort(port, published.protocol).description)
            }
        }
        hostPorts = ports
    }
}

extension HostPort {
    /// `8080/tcp` → HostPort.
    init?(text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let port = Int(parts[0]), let proto = TransportProtocol(rawValue: String(parts[1])) else { return nil }
        self.init(port, proto)
    }
}

enum StoredJSON {
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension SystemTransaction {
    /// Reads the scheduling snapshots of `applicationIDs` in one go, in the order given; those
    /// that do not exist are left out. Applications of one cluster share one read of its nodes.
    public func schedulingSnapshots(applicationIDs: [String]) throws -> [SchedulingSnapshot] {
        try SnapshotLoader.load(applicationIDs: applicationIDs, on: connection)
    }
}

enum SnapshotLoader {
    struct Application {
        var tenantID, clusterID, name: String
        var deleting: Bool
        var generation: Int64
        var services: [ServiceSnapshot] = []
        var serviceVersions: [String: Int64] = [:]
        var serviceNames: [String: String] = [:]
        var containers: [ContainerSnapshot] = []
        var containerVersions: [String: Int64] = [:]
        /// What its own containers hold on each node (part of the node totals).
        var ownUsage: [String: NodeUsage] = [:]
    }

    static func load(applicationIDs: [String], on connection: PostgresConnection) throws -> [SchedulingSnapshot] {
        guard !applicationIDs.isEmpty else { return [] }
        var apps: [String: Application] = [:]
        for row in try connection.query("""
            SELECT id, tenant_id, cluster_id, name, status, generation FROM applications WHERE id = ANY($1::text[])
            """, [applicationIDs]) {
            apps[try row.decode("id")] = Application(
                tenantID: try row.decode("tenant_id"), clusterID: try row.decode("cluster_id"), name: try row.decode("name"),
                deleting: try row.decode("status", as: String.self) == "deleting", generation: try row.decode("generation"))
        }
        guard !apps.isEmpty else { return [] }
        let found = Array(apps.keys)
        try loadServices(of: found, into: &apps, on: connection)
        try loadContainers(of: found, into: &apps, on: connection)

        var nodesByCluster: [String: (nodes: [NodeSnapshot], totals: [String: NodeUsage])] = [:]
        for clusterID in Set(apps.values.map(\.clusterID)).sorted() {
            let totals = try nodeTotals(clusterID: clusterID, nodeIDs: nil, on: connection)
            nodesByCluster[clusterID] = (try nodes(clusterID: clusterID, on: connection), totals)
        }
        var seen = Set<String>()
        return applicationIDs.compactMap { id in
            guard let app = apps[id], seen.insert(id).inserted, let cluster = nodesByCluster[app.clusterID] else { return nil }
            let nodes = cluster.nodes.map { node in
                var node = node
                node.otherUsage = (cluster.totals[node.id] ?? NodeUsage()).subtracting(app.ownUsage[node.id] ?? NodeUsage())
                return node
            }
            return SchedulingSnapshot(
                tenantID: app.tenantID, applicationID: id, applicationName: app.name, clusterID: app.clusterID,
                deleting: app.deleting, generation: app.generation,
                snapshot: ClusterSnapshot(nodes: nodes, services: app.services, containers: app.containers),
                serviceVersions: app.serviceVersions, containerVersions: app.containerVersions, nodeTotals: cluster.totals,
                serviceNames: app.serviceNames)
        }
    }

    static func loadServices(of ids: [String], into apps: inout [String: Application], on connection: PostgresConnection) throws {
        for row in try connection.query("""
            SELECT id, application_id, name, status, spec::text AS spec, desired_replicas::int8 AS desired_replicas, generation,
                   previous_spec::text AS previous_spec, previous_generation, rollout::text AS rollout, version
            FROM services WHERE application_id = ANY($1::text[]) AND kind = 'container' ORDER BY application_id, id
            """, [ids]) {
            let appID: String = try row.decode("application_id")
            guard var app = apps[appID] else { continue }
            let id: String = try row.decode("id")
            app.serviceVersions[id] = try row.decode("version")
            app.serviceNames[id] = try row.decode("name")
            if !app.deleting, try row.decode("status", as: String.self) != "removing" {
                let replicas: Int = try row.decode("desired_replicas")
                var spec = try StoredJSON.decode(ServiceSpec.self, try row.decode("spec"))
                spec.replicas = replicas
                var previous: PreviousGeneration?
                if let text: String = try row.decode("previous_spec"), let generation: Int64 = try row.decode("previous_generation"),
                   var previousSpec = try? StoredJSON.decode(ServiceSpec.self, text) {
                    previousSpec.replicas = replicas
                    previous = PreviousGeneration(spec: previousSpec, generation: Int(generation))
                }
                let rollout = try (row.decode("rollout", as: String?.self)).flatMap { try? StoredJSON.decode(RolloutState.self, $0) }
                app.services.append(ServiceSnapshot(id: id, spec: spec, generation: Int(try row.decode("generation", as: Int64.self)),
                                                    previous: previous, rollout: rollout))
            }
            apps[appID] = app
        }
    }

    static func loadContainers(of ids: [String], into apps: inout [String: Application], on connection: PostgresConnection) throws {
        for row in try connection.query("""
            SELECT id, application_id, service_id, slot::int8 AS slot, node_id, generation, desired_state, observed_state, health,
                   restart_count::int8 AS restart_count, exit_code::int8 AS exit_code,
                   COALESCE(last_exit_at, finished_at) AS last_exit_at, created_at, started_at, healthy_since, replaced_by, version,
                   reserved_cpus, reserved_memory, array_to_string(host_ports, ',') AS host_ports,
                   (node_id IS NOT NULL AND desired_state = 'running' AND replaced_by IS NULL
                    AND observed_state NOT IN ('exited', 'failed', 'lost', 'removed')) AS holds
            FROM containers WHERE application_id = ANY($1::text[]) ORDER BY application_id, id
            """, [ids]) {
            let appID: String = try row.decode("application_id")
            guard var app = apps[appID] else { continue }
            let id: String = try row.decode("id")
            app.containerVersions[id] = try row.decode("version")
            if try row.decode("holds", as: Bool.self), let node: String = try row.decode("node_id") {
                var usage = app.ownUsage[node] ?? NodeUsage()
                usage.cpus += try row.decode("reserved_cpus", as: Double.self)
                usage.memoryBytes += try row.decode("reserved_memory", as: Int64.self)
                usage.containerCount += 1
                for port in (try row.decode("host_ports", as: String.self)).split(separator: ",") {
                    if let hostPort = HostPort(text: String(port)) { usage.hostPorts.insert(hostPort) }
                }
                app.ownUsage[node] = usage
            }
            app.containers.append(ContainerSnapshot(
                id: id, serviceID: try row.decode("service_id"), slot: try row.decode("slot"), nodeID: try row.decode("node_id"),
                generation: Int(try row.decode("generation", as: Int64.self)),
                desired: DesiredContainerState(rawValue: try row.decode("desired_state", as: String.self)) ?? .running,
                observed: ObservedContainerState(rawValue: try row.decode("observed_state", as: String.self)) ?? .pending,
                health: HealthStatus(rawValue: try row.decode("health", as: String.self)) ?? .unknown,
                restartCount: try row.decode("restart_count"), lastExitCode: try row.decode("exit_code"),
                lastExitAt: try row.decode("last_exit_at"), createdAt: try row.decode("created_at"),
                startedAt: try row.decode("started_at"), healthySince: try row.decode("healthy_since"),
                replacedBy: try row.decode("replaced_by")))
            apps[appID] = app
        }
    }

    /// The cluster's nodes, without usage (the caller fills it in per application).
    static func nodes(clusterID: String, on connection: PostgresConnection) throws -> [NodeSnapshot] {
        try connection.query("""
            SELECT id, name, labels::text AS labels, status, capacity_cpus, capacity_memory FROM nodes WHERE cluster_id = $1 ORDER BY id
            """, [clusterID]).map { row in
            NodeSnapshot(
                id: try row.decode("id"), name: try row.decode("name"),
                labels: (try? StoredJSON.decode([String: String].self, try row.decode("labels", as: String.self))) ?? [:],
                status: NodeStatus(rawValue: try row.decode("status", as: String.self)) ?? .down,
                capacity: NodeCapacity(cpus: try row.decode("capacity_cpus"), memoryBytes: try row.decode("capacity_memory")))
        }
    }

    /// What every container holds on the cluster's nodes (or just `nodeIDs`): the totals the
    /// usage trigger keeps on the node rows, and the published host ports.
    static func nodeTotals(clusterID: String, nodeIDs: [String]?, on connection: PostgresConnection) throws -> [String: NodeUsage] {
        var usage: [String: NodeUsage] = [:]
        for row in try connection.query("""
            SELECT id, allocated_cpus, allocated_memory, allocated_containers::int8 AS n FROM nodes
            WHERE cluster_id = $1 AND ($2::text[] IS NULL OR id = ANY($2::text[]))
            """, [clusterID, nodeIDs]) {
            usage[try row.decode("id")] = NodeUsage(cpus: try row.decode("allocated_cpus"), memoryBytes: try row.decode("allocated_memory"),
                                                    containerCount: try row.decode("n"))
        }
        for row in try connection.query("""
            SELECT c.node_id, string_agg(array_to_string(c.host_ports, ','), ',') AS ports
            FROM containers c JOIN nodes n ON n.id = c.node_id
            WHERE n.cluster_id = $1 AND c.host_ports <> '{}' AND ($2::text[] IS NULL OR c.node_id = ANY($2::text[]))
              AND c.desired_state = 'running' AND c.observed_state NOT IN ('exited', 'failed', 'lost', 'removed')
              AND c.replaced_by IS NULL
            GROUP BY c.node_id
            """, [clusterID, nodeIDs]) {
            let node: String = try row.decode("node_id")
            let ports = (try row.decode("ports", as: String?.self) ?? "").split(separator: ",").compactMap { HostPort(text: String($0)) }
            usage[node, default: NodeUsage()].hostPorts.formUnion(ports)
        }
        return usage
    }
}

extension NodeUsage {
    /// These totals without `part` (never below zero).
    func subtracting(_ part: NodeUsage) -> NodeUsage {
        NodeUsage(cpus: max(0, cpus - part.cpus), memoryBytes: max(0, memoryBytes - part.memoryBytes),
                  hostPorts: hostPorts.subtracting(part.hostPorts), containerCount: max(0, containerCount - part.containerCount))
    }
}
