import CaaSModel
import CaaSPostgres
import Foundation

public struct NodeRecord: Sendable, Equatable {
    public var id: String
    public var clusterID: String
    public var name: String
    public var engineEndpoint: String
    public var engineTLS: Bool
    public var labels: [String: String]
    public var capacityCPUs: Double
    public var capacityMemory: Int64
    public var allocatedCPUs: Double
    public var allocatedMemory: Int64
    public var status: NodeStatus
    public var statusReason: String?
    public var lastHeartbeatAt: Date?
    public var subnet: String
    /// Containers on the node that are not removed.
    public var containerCount: Int
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
}

let nodeColumns = """
    n.id, n.cluster_id, n.name, n.engine_endpoint, n.engine_tls, n.labels::text AS labels, n.capacity_cpus,
    n.capacity_memory, n.allocated_cpus, n.allocated_memory, n.status, n.status_reason, n.last_heartbeat_at,
    n.subnet::text AS subnet, n.version, n.created_at, n.updated_at, n.created_at::text AS sort_time,
    (SELECT count(*) FROM containers k WHERE k.node_id = n.id AND k.observed_state <> 'removed')::int8 AS container_count
    """

extension NodeRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        clusterID = try row.decode("cluster_id")
        name = try row.decode("name")
        engineEndpoint = try row.decode("engine_endpoint")
        engineTLS = try row.decode("engine_tls")
        labels = try ResourceJSON.labels(row, "labels")
        capacityCPUs = try row.decode("capacity_cpus")
        capacityMemory = try row.decode("capacity_memory")
        allocatedCPUs = try row.decode("allocated_cpus")
        allocatedMemory = try row.decode("allocated_memory")
        status = NodeStatus(rawValue: try row.decode("status", as: String.self)) ?? .down
        statusReason = try row.decode("status_reason")
        lastHeartbeatAt = try row.decode("last_heartbeat_at")
        subnet = try row.decode("subnet")
        containerCount = try row.decode("container_count")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct NewNode: Sendable, Equatable {
    public var id: String
    public var clusterID: String
    public var name: String
    public var engineEndpoint: String
    public var engineTLS: Bool
    public var labels: [String: String]
    public var capacityCPUs: Double
    public var capacityMemory: Int64

    public init(id: String, clusterID: String, name: String, engineEndpoint: String, engineTLS: Bool,
                labels: [String: String], capacityCPUs: Double, capacityMemory: Int64) {
        self.id = id
        self.clusterID = clusterID
        self.name = name
        self.engineEndpoint = engineEndpoint
        self.engineTLS = engineTLS
        self.labels = labels
        self.capacityCPUs = capacityCPUs
        self.capacityMemory = capacityMemory
    }
}

public struct NodeChanges: Sendable, Equatable {
    public var name: String?
    public var engineEndpoint: String?
    public var engineTLS: Bool?
    public var labels: [String: String]?
    public var capacityCPUs: Double?
    public var capacityMemory: Int64?

    public init(name: String? = nil, engineEndpoint: String? = nil, engineTLS: Bool? = nil, labels: [String: String]? = nil,
                capacityCPUs: Double? = nil, capacityMemory: Int64? = nil) {
        self.name = name
        self.engineEndpoint = engineEndpoint
        self.engineTLS = engineTLS
        self.labels = labels
        self.capacityCPUs = capacityCPUs
        self.capacityMemory = capacityMemory
    }
}

public struct NodeFilter: Sendable, Equatable {
    public var clusterID: String?
    public var status: NodeStatus?
    /// `key=value` on the node's labels.
    public var label: (key: String, value: String)?

    public init(clusterID: String? = nil, status: NodeStatus? = nil, label: (key: String, value: String)? = nil) {
        self.clusterID = clusterID
        self.status = status
        self.label = label
    }

    public static func == (a: NodeFilter, b: NodeFilter) -> Bool {
        a.clusterID == b.clusterID && a.status == b.status && a.label?.key == b.label?.key && a.label?.value == b.label?.value
    }
}

/// The operator actions on a node.
public enum NodeAction: String, Sendable, CaseIterable {
    case drain
    case pause
    case activate

    var target: NodeStatus {
        switch self {
        case .drain: .draining
        case .pause: .paused
        case .activate: .ready
        }
    }
}

extension TenantTransaction {
    /// Registers a node and gives it the lowest free subnet of its cluster's network.
    ///
    /// The cluster row is locked first (`FOR UPDATE`), so node creations in one cluster take
    /// turns: each sees the subnets the previous one committed. The unique constraint on
    /// (cluster_id, subnet) is the second wall; a subnet freed by a deleted node is reused.
    public func createNode(_ new: NewNode, quotas: QuotaDefaults) throws -> NodeRecord {
        try beginWrite()
        try enforceQuota(.nodes, defaults: quotas)
        let clusters = try connection.query("""
            SELECT name, network_cidr::text AS network, node_subnet_prefix, status FROM clusters
            WHERE id = $1 AND tenant_id = $2 FOR UPDATE
            """, [new.clusterID, tenantID])
        guard let cluster = clusters.first else { throw StoreError.notFound(kind: "cluster", id: new.clusterID) }
        if try cluster.decode("status", as: String.self) == "deleting" {
            throw StoreError.conflict("cluster \(try cluster.decode("name", as: String.self)) is being deleted")
        }
        guard let network = IPv4Network(try cluster.decode("network", as: String.self)) else {
            throw StoreError.conflict("cluster \(new.clusterID) has no usable network")
        }
        let prefix: Int = try cluster.decode("node_subnet_prefix")
        let used = try connection.query("SELECT subnet::text AS subnet FROM nodes WHERE cluster_id = $1", [new.clusterID])
            .compactMap { IPv4Network(try $0.decode("subnet", as: String.self)) }
        guard let subnet = SubnetAllocator.firstFree(in: network, prefixLength: prefix, used: used) else {
            throw StoreError.conflict("the network \(network) of cluster \(new.clusterID) has no free /\(prefix) subnet left (\(used.count) nodes)")
        }
        do {
            _ = try connection.execute("""
                INSERT INTO nodes (id, tenant_id, cluster_id, name, engine_endpoint, engine_tls, labels, capacity_cpus,
                                   capacity_memory, subnet)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::cidr)
                """, [new.id, tenantID, new.clusterID, new.name, new.engineEndpoint, new.engineTLS,
                      try ResourceJSON.encode(new.labels), new.capacityCPUs, new.capacityMemory, subnet.description])
        } catch let error as PostgresError where error.isUniqueViolation {
            if error.constraintName == "nodes_cluster_id_subnet_key" {
                throw StoreError.conflict("subnet \(subnet) was taken concurrently; retry")
            }
            throw StoreError.conflict("a node named \(new.name) exists in this cluster")
        }
        try appendEvent(type: "node.created", objectKind: "node", objectID: new.id,
                        summary: "node \(new.name) registered with subnet \(subnet)")
        return try requireNode(new.id)
    }

    public func node(_ id: String) throws -> NodeRecord? {
        try connection.query("SELECT \(nodeColumns) FROM nodes n WHERE n.id = $1 AND n.tenant_id = $2", [id, tenantID])
            .first.map(NodeRecord.init(row:))
    }

    func requireNode(_ id: String) throws -> NodeRecord {
        guard let node = try node(id) else { throw StoreError.notFound(kind: "node", id: id) }
        return node
    }

    public func nodes(filter: NodeFilter, limit: Int, after: [String]?) throws -> [(NodeRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(nodeColumns) FROM nodes n
            WHERE n.tenant_id = $1
              AND ($2::text IS NULL OR n.cluster_id = $2)
              AND ($3::text IS NULL OR n.status = $3)
              AND ($4::text IS NULL OR n.labels ->> $4 = $5)
              AND ($6::timestamptz IS NULL OR (n.created_at, n.id) > ($6::timestamptz, $7::text))
            ORDER BY n.created_at, n.id
            LIMIT $8
            """, [tenantID, filter.clusterID, filter.status?.rawValue, filter.label?.key, filter.label?.value,
                  after?[0], after?[1], limit + 1])
        return try rows.map { (try NodeRecord(row: $0), try CreationOrder.key($0)) }
    }

    public func updateNode(_ id: String, expectedVersion: Int64?, changes: NodeChanges) throws -> NodeRecord {
        try beginWrite()
        let labels = try changes.labels.map { try ResourceJSON.encode($0) }
        let count: Int
        do {
            count = try connection.execute("""
                UPDATE nodes SET name = coalesce($4, name), engine_endpoint = coalesce($5, engine_endpoint),
                       engine_tls = coalesce($6, engine_tls), labels = coalesce($7::jsonb, labels),
                       capacity_cpus = coalesce($8, capacity_cpus), capacity_memory = coalesce($9, capacity_memory),
                       version = version + 1, updated_at = now()
                WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
                """, [id, tenantID, expectedVersion, changes.name, changes.engineEndpoint, changes.engineTLS, labels,
                      changes.capacityCPUs, changes.capacityMemory])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("a node named \(changes.name ?? "") exists in this cluster")
        }
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "nodes", kind: "node", id: id) }
        let node = try requireNode(id)
        try appendEvent(type: "node.updated", objectKind: "node", objectID: id, summary: "node \(node.name) changed")
        return node
    }

    /// Drain, pause or activate. A node that is down becomes ready only when its agent reports it.
    public func applyNodeAction(_ id: String, expectedVersion: Int64?, action: NodeAction) throws -> NodeRecord {
        try beginWrite()
        let current = try requireNode(id)
        if let expectedVersion, expectedVersion != current.version { throw StoreError.versionMismatch(current: current.version) }
        if action == .activate && current.status == .down {
            throw StoreError.conflict("node \(current.name) is down: it becomes ready when its agent reports again")
        }
        let reason: String? = switch action {
        case .drain: "drained by an operator"
        case .pause: "paused by an operator"
        case .activate: nil
        }
        let count = try connection.execute("""
            UPDATE nodes SET status = $4, status_reason = $5, version = version + 1, updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND version = $3
            """, [id, tenantID, current.version, action.target.rawValue, reason])
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "nodes", kind: "node", id: id) }
        let node = try requireNode(id)
        try appendEvent(type: "node.\(action.rawValue)", objectKind: "node", objectID: id,
                        summary: "node \(node.name) \(action == .activate ? "activated" : action == .drain ? "draining" : "paused")")
        return node
    }

    /// Removes a node and frees its subnet. Refused while containers are assigned to it, unless
    /// `force`: then those containers are marked for removal and lose their node.
    public func deleteNode(_ id: String, expectedVersion: Int64?, force: Bool) throws {
        try beginWrite()
        let current = try requireNode(id)
        if let expectedVersion, expectedVersion != current.version { throw StoreError.versionMismatch(current: current.version) }
        if current.containerCount > 0 {
            guard force else {
                throw StoreError.inUse("node \(current.name) has \(current.containerCount) container(s) assigned; drain it first or pass force=true")
            }
            _ = try connection.execute("""
                UPDATE containers SET desired_state = 'removed', version = version + 1, updated_at = now()
                WHERE node_id = $1 AND tenant_id = $2 AND desired_state <> 'removed'
                """, [id, tenantID])
        }
        let count = try connection.execute(
            "DELETE FROM nodes WHERE id = $1 AND tenant_id = $2 AND version = $3", [id, tenantID, current.version])
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "nodes", kind: "node", id: id) }
        try appendEvent(type: "node.deleted", objectKind: "node", objectID: id,
                        summary: "node \(current.name) removed; subnet \(current.subnet) freed")
    }
}
