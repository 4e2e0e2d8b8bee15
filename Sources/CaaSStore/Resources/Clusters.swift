import CaaSModel
import CaaSPostgres
import Foundation

public struct ClusterRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var labels: [String: String]
    public var networkCIDR: String
    public var nodeSubnetPrefix: Int
    /// How its containers are networked (fixed at creation).
    public var networking: ClusterNetworking = .host
    /// `pending` (no agent yet), `active`, `deleting`.
    public var status: String
    /// `unknown`, `connected`, `disconnected`.
    public var agentStatus: String
    public var agentSeenAt: Date?
    public var joinTokenCreatedAt: Date
    public var nodeCount: Int
    public var applicationCount: Int
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
}

let clusterColumns = """
    c.id, c.name, c.description, c.labels::text AS labels, c.network_cidr::text AS network_cidr, c.node_subnet_prefix, c.networking,
    c.status, c.agent_status, c.agent_seen_at, c.join_token_created_at, c.version, c.created_at, c.updated_at,
    c.created_at::text AS sort_time,
    (SELECT count(*) FROM nodes n WHERE n.cluster_id = c.id)::int8 AS node_count,
    (SELECT count(*) FROM applications a WHERE a.cluster_id = c.id)::int8 AS application_count
    """

extension ClusterRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        description = try row.decode("description")
        labels = try ResourceJSON.labels(row, "labels")
        networkCIDR = try row.decode("network_cidr")
        nodeSubnetPrefix = try row.decode("node_subnet_prefix")
        networking = ClusterNetworking(rawValue: try row.decode("networking", as: String.self)) ?? .host
        status = try row.decode("status")
        agentStatus = try row.decode("agent_status")
        agentSeenAt = try row.decode("agent_seen_at")
        joinTokenCreatedAt = try row.decode("join_token_created_at")
        nodeCount = try row.decode("node_count")
        applicationCount = try row.decode("application_count")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct NewCluster: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var labels: [String: String]
    public var network: IPv4Network
    public var nodeSubnetPrefix: Int
    /// Lower-case hex SHA-256 of the join token; the token itself never reaches the store.
    public var joinTokenDigestHex: String
    public var networking: ClusterNetworking

    public init(id: String, name: String, description: String, labels: [String: String], network: IPv4Network,
                nodeSubnetPrefix: Int, joinTokenDigestHex: String, networking: ClusterNetworking = .host) {
        self.networking = networking
        self.id = id
        self.name = name
        self.description = description
        self.labels = labels
        self.network = network
        self.nodeSubnetPrefix = nodeSubnetPrefix
        self.joinTokenDigestHex = joinTokenDigestHex
    }
}

/// What PATCH may change; `nil` members stay. The network is fixed once the cluster exists.
public struct ClusterChanges: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var labels: [String: String]?

    public init(name: String? = nil, description: String? = nil, labels: [String: String]? = nil) {
        self.name = name
        self.description = description
        self.labels = labels
    }
}

public struct ClusterFilter: Sendable, Equatable {
    public var namePrefix: String?
    public var status: String?

    public init(namePrefix: String? = nil, status: String? = nil) {
        self.namePrefix = namePrefix
        self.status = status
    }
}

extension TenantTransaction {
    public func createCluster(_ new: NewCluster, quotas: QuotaDefaults) throws -> ClusterRecord {
        try beginWrite()
        try enforceQuota(.clusters, defaults: quotas)
        do {
            _ = try connection.execute("""
                INSERT INTO clusters (id, tenant_id, name, description, labels, network_cidr, node_subnet_prefix, join_token_digest, networking)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6::cidr, $7, decode($8, 'hex'), $9)
                """, [new.id, tenantID, new.name, new.description, try ResourceJSON.encode(new.labels),
                      new.network.description, new.nodeSubnetPrefix, new.joinTokenDigestHex, new.networking.rawValue])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("a cluster named \(new.name) exists")
        }
        try appendEvent(type: "cluster.created", objectKind: "cluster", objectID: new.id,
                        summary: "cluster \(new.name) created with network \(new.network)")
        return try requireCluster(new.id)
    }

    public func cluster(_ id: String) throws -> ClusterRecord? {
        try connection.query("SELECT \(clusterColumns) FROM clusters c WHERE c.id = $1 AND c.tenant_id = $2", [id, tenantID])
            .first.map(ClusterRecord.init(row:))
    }

    func requireCluster(_ id: String) throws -> ClusterRecord {
        guard let cluster = try cluster(id) else { throw StoreError.notFound(kind: "cluster", id: id) }
        return cluster
    }

    public func clusters(filter: ClusterFilter, limit: Int, after: [String]?) throws -> [(ClusterRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(clusterColumns) FROM clusters c
            WHERE c.tenant_id = $1
              AND ($2::text IS NULL OR starts_with(c.name, $2))
              AND ($3::text IS NULL OR c.status = $3)
              AND ($4::timestamptz IS NULL OR (c.created_at, c.id) > ($4::timestamptz, $5::text))
            ORDER BY c.created_at, c.id
            LIMIT $6
            """, [tenantID, filter.namePrefix, filter.status, after?[0], after?[1], limit + 1])
        return try rows.map { (try ClusterRecord(row: $0), try CreationOrder.key($0)) }
    }

    public func updateCluster(_ id: String, expectedVersion: Int64?, changes: ClusterChanges) throws -> ClusterRecord {
        try beginWrite()
        let labels = try changes.labels.map { try ResourceJSON.encode($0) }
        let count: Int
        do {
            count = try connection.execute("""
                UPDATE clusters SET name = coalesce($4, name), description = coalesce($5, description),
                       labels = coalesce($6::jsonb, labels), version = version + 1, updated_at = now()
                WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
                """, [id, tenantID, expectedVersion, changes.name, changes.description, labels])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("a cluster named \(changes.name ?? "") exists")
        }
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "clusters", kind: "cluster", id: id) }
        let cluster = try requireCluster(id)
        try appendEvent(type: "cluster.updated", objectKind: "cluster", objectID: id, summary: "cluster \(cluster.name) changed")
        return cluster
    }

    /// Replaces the join token (the old one stops working at commit).
    public func rotateJoinToken(_ id: String, expectedVersion: Int64?, digestHex: String) throws -> ClusterRecord {
        try beginWrite()
        let count = try connection.execute("""
            UPDATE clusters SET join_token_digest = decode($4, 'hex'), join_token_created_at = now(),
                   version = version + 1, updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
            """, [id, tenantID, expectedVersion, digestHex])
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "clusters", kind: "cluster", id: id) }
        let cluster = try requireCluster(id)
        try appendEvent(type: "cluster.join_token_rotated", objectKind: "cluster", objectID: id,
                        summary: "join token of cluster \(cluster.name) rotated")
        return cluster
    }

    /// Deletes a cluster with its nodes. A cluster with applications is refused (naming them)
    /// unless `force`, which deletes the applications (with their services, containers and
    /// deployments) first, each with its event.
    public func deleteCluster(_ id: String, expectedVersion: Int64?, force: Bool) throws {
        try beginWrite()
        let rows = try connection.query(
            "SELECT name, version FROM clusters WHERE id = $1 AND tenant_id = $2 FOR UPDATE", [id, tenantID])
        guard let row = rows.first else { throw StoreError.notFound(kind: "cluster", id: id) }
        let current: Int64 = try row.decode("version")
        let name: String = try row.decode("name")
        if let expectedVersion, expectedVersion != current { throw StoreError.versionMismatch(current: current) }
        let apps = try connection.query(
            "SELECT id, name FROM applications WHERE cluster_id = $1 AND tenant_id = $2 ORDER BY name, id", [id, tenantID])
            .map { (try $0.decode("id", as: String.self), try $0.decode("name", as: String.self)) }
        if !apps.isEmpty && !force {
            let names = apps.map { "\($0.1) (\($0.0))" }.joined(separator: ", ")
            throw StoreError.inUse("cluster \(name) has \(apps.count) application\(apps.count == 1 ? "" : "s"): \(names); delete them first or pass force=true")
        }
        for (appID, appName) in apps {
            _ = try connection.execute("DELETE FROM applications WHERE id = $1 AND tenant_id = $2", [appID, tenantID])
            try appendEvent(type: "app.deleted", objectKind: "application", objectID: appID,
                            summary: "application \(appName) deleted with its cluster \(name) (force)")
        }
        _ = try connection.execute("DELETE FROM clusters WHERE id = $1 AND tenant_id = $2", [id, tenantID])
        try appendEvent(type: "cluster.deleted", objectKind: "cluster", objectID: id,
                        summary: force && !apps.isEmpty ? "cluster \(name) deleted with \(apps.count) application(s) (force)" : "cluster \(name) deleted")
    }
}
