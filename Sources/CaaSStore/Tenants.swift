import CaaSModel
import CaaSPostgres
import Foundation

public enum TenantStatus: String, Sendable, Codable {
    case active
    case suspended
}

public struct TenantRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var displayName: String
    public var status: TenantStatus
    public var suspendedReason: String?
    /// Per-tenant overrides by quota name; missing names use the server's defaults.
    public var quotas: [String: Int]
    /// What the tenant's containers may ask of the nodes (the standard policy until one is set).
    public var hostPolicy: HostPolicy
    public var lastEventID: Int64
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
}

/// Columns every tenant query selects, in the shape `TenantRecord(row:)` reads.
let tenantColumns = """
    id, name, display_name, status, suspended_reason, quotas::text AS quotas, host_policy::text AS host_policy, last_event_id, version,
    created_at, updated_at, created_at::text AS sort_time
    """

extension TenantRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        displayName = try row.decode("display_name")
        status = TenantStatus(rawValue: try row.decode("status", as: String.self)) ?? .suspended
        suspendedReason = try row.decode("suspended_reason")
        let quotaText: String = try row.decode("quotas")
        quotas = (try? JSONDecoder().decode([String: Int].self, from: Data(quotaText.utf8))) ?? [:]
        let policyText: String = try row.decode("host_policy")
        // A document this server cannot read grants nothing beyond the standard policy.
        hostPolicy = (try? JSONDecoder().decode(HostPolicy.self, from: Data(policyText.utf8))) ?? .standard
        lastEventID = try row.decode("last_event_id")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct TenantFilter: Sendable, Equatable {
    public var status: TenantStatus?
    /// Names starting with this text.
    public var namePrefix: String?

    public init(status: TenantStatus? = nil, namePrefix: String? = nil) {
        self.status = status
        self.namePrefix = namePrefix
    }
}

/// Changes to a tenant; `nil` members stay as they are.
public struct TenantChanges: Sendable, Equatable {
    public var displayName: String?
    /// The complete new set of overrides (the API merges the patch before it gets here).
    public var quotas: [String: Int]?

    public init(displayName: String? = nil, quotas: [String: Int]? = nil) {
        self.displayName = displayName
        self.quotas = quotas
    }
}

/// Tenants: managed by the system administrator (system scope); a tenant reads its own row.
extension SystemTransaction {
    public func createTenant(id: String, name: String, displayName: String, quotas: [String: Int]) throws -> TenantRecord {
        let quotaText = String(decoding: try JSONEncoder().encode(quotas), as: UTF8.self)
        let row: PostgresRow
        do {
            row = try connection.query(
                "INSERT INTO tenants (id, name, display_name, quotas) VALUES ($1, $2, $3, $4::jsonb) RETURNING \(tenantColumns)",
                [id, name, displayName, quotaText])[0]
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("a tenant named \(name) exists")
        }
        let tenant = try TenantRecord(row: row)
        try asTenant(id).appendEvent(type: "tenant.created", objectKind: "tenant", objectID: id, summary: "tenant \(name) created")
        return try self.tenant(id)
            ?? tenant
    }

    public func tenant(_ id: String) throws -> TenantRecord? {
        let rows = try connection.query("SELECT \(tenantColumns) FROM tenants WHERE id = $1", [id])
        return try rows.first.map(TenantRecord.init(row:))
    }

    /// Tenants in creation order; `after` is the last item's sort key from the previous page.
    public func tenants(filter: TenantFilter, limit: Int, after: [String]?) throws -> [(TenantRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(tenantColumns) FROM tenants
            WHERE ($1::text IS NULL OR status = $1)
              AND ($2::text IS NULL OR starts_with(name, $2))
              AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::text))
            ORDER BY created_at, id
            LIMIT $5
            """, [filter.status?.rawValue, filter.namePrefix, after?[0], after?[1], limit + 1])
        return try rows.map { row in
            (try TenantRecord(row: row), [try row.decode("sort_time", as: String.self), try row.decode("id", as: String.self)])
        }
    }

    public func updateTenant(_ id: String, expectedVersion: Int64?, changes: TenantChanges) throws -> TenantRecord {
        let quotaText = try changes.quotas.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let rows = try connection.query("""
            UPDATE tenants SET display_name = coalesce($3, display_name), quotas = coalesce($4::jsonb, quotas),
                   version = version + 1, updated_at = now()
            WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)
            RETURNING \(tenantColumns)
            """, [id, expectedVersion, changes.displayName, quotaText])
        guard let row = rows.first else { throw try missingOrStale(table: "tenants", kind: "tenant", id: id) }
        try asTenant(id).appendEvent(type: "tenant.updated", objectKind: "tenant", objectID: id, summary: "tenant settings changed")
        return try tenant(id) ?? TenantRecord(row: row)
    }

    /// Replaces the tenant's host policy. Applications already deployed keep running as they are;
    /// their next create or update is checked against this policy.
    public func setHostPolicy(_ id: String, expectedVersion: Int64?, policy: HostPolicy) throws -> TenantRecord {
        let policyText = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
        let rows = try connection.query("""
            UPDATE tenants SET host_policy = $3::jsonb, version = version + 1, updated_at = now()
            WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)
            RETURNING \(tenantColumns)
            """, [id, expectedVersion, policyText])
        guard let row = rows.first else { throw try missingOrStale(table: "tenants", kind: "tenant", id: id) }
        try asTenant(id).appendEvent(type: "tenant.policy_changed", objectKind: "tenant", objectID: id, summary: "host policy changed")
        return try tenant(id) ?? TenantRecord(row: row)
    }

    public func setTenantStatus(_ id: String, expectedVersion: Int64?, status: TenantStatus, reason: String?) throws -> TenantRecord {
        let rows = try connection.query("""
            UPDATE tenants SET status = $3, suspended_reason = $4, version = version + 1, updated_at = now()
            WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)
            RETURNING \(tenantColumns)
            """, [id, expectedVersion, status.rawValue, status == .suspended ? reason : nil])
        guard let row = rows.first else { throw try missingOrStale(table: "tenants", kind: "tenant", id: id) }
        let summary = status == .suspended ? "tenant suspended: \(reason ?? "no reason given")" : "tenant resumed"
        try asTenant(id).appendEvent(type: status == .suspended ? "tenant.suspended" : "tenant.resumed",
                                     objectKind: "tenant", objectID: id, summary: summary)
        return try tenant(id) ?? TenantRecord(row: row)
    }

    /// Deletes the tenant with its tokens, events and idempotency keys. Tables of later resources
    /// reference tenants `ON DELETE RESTRICT`, so a tenant that still owns resources is `.inUse`.
    public func deleteTenant(_ id: String, expectedVersion: Int64?) throws {
        do {
            let count = try connection.execute(
                "DELETE FROM tenants WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)", [id, expectedVersion])
            if count == 0 { throw try missingOrStale(table: "tenants", kind: "tenant", id: id) }
        } catch let error as PostgresError where error.isForeignKeyViolation {
            throw StoreError.inUse("tenant \(id) still owns resources (\(error.tableName ?? "some table")): delete them first")
        }
    }

    /// After an UPDATE/DELETE guarded by version matched nothing: not found, or stale.
    func missingOrStale(table: String, kind: String, id: String) throws -> StoreError {
        try StoreVersioning.missingOrStale(connection, table: table, kind: kind, id: id)
    }
}

extension TenantTransaction {
    /// The scope's own tenant.
    public func tenant() throws -> TenantRecord {
        let rows = try connection.query("SELECT \(tenantColumns) FROM tenants WHERE id = $1", [tenantID])
        guard let row = rows.first else { throw StoreError.notFound(kind: "tenant", id: tenantID) }
        return try TenantRecord(row: row)
    }
}

/// The optimistic concurrency helper every resource uses: `UPDATE … WHERE id = $1 AND
/// ($2::bigint IS NULL OR version = $2)`; when that matched no row, this tells why.
enum StoreVersioning {
    static func missingOrStale(_ connection: PostgresConnection, table: String, kind: String, id: String) throws -> StoreError {
        // `table` is always a constant of the calling repository, never input.
        let rows = try connection.query("SELECT version FROM \(table) WHERE id = $1", [id])
        guard let row = rows.first else { return .notFound(kind: kind, id: id) }
        return .versionMismatch(current: try row.decode("version", as: Int64.self))
    }
}
