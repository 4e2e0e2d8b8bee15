import CaaSPostgres
import Foundation

public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var tenantID: String?
    public var tokenID: String?
    public var tokenName: String?
    public var action: String
    public var target: String?
    public var method: String
    public var path: String
    /// The HTTP status the call answered.
    public var outcome: Int
    public var requestID: String
    public var createdAt: Date

    public init(id: Int64 = 0, tenantID: String?, tokenID: String?, tokenName: String?, action: String, target: String?,
                method: String, path: String, outcome: Int, requestID: String, createdAt: Date = Date()) {
        self.id = id
        self.tenantID = tenantID
        self.tokenID = tokenID
        self.tokenName = tokenName
        self.action = action
        self.target = target
        self.method = method
        self.path = path
        self.outcome = outcome
        self.requestID = requestID
        self.createdAt = createdAt
    }
}

public struct AuditFilter: Sendable, Equatable {
    /// Only for the system administrator: one tenant's entries.
    public var tenantID: String?
    /// An action (`tokens.create`) or a prefix of actions (`tokens`).
    public var action: String?
    public var target: String?
    public var since: Date?
    public var until: Date?
    /// `success` (status < 400), `failure` (≥ 400), or one status code.
    public var outcome: String?
    public var tokenID: String?

    public init(tenantID: String? = nil, action: String? = nil, target: String? = nil, since: Date? = nil,
                until: Date? = nil, outcome: String? = nil, tokenID: String? = nil) {
        self.tenantID = tenantID
        self.action = action
        self.target = target
        self.since = since
        self.until = until
        self.outcome = outcome
        self.tokenID = tokenID
    }
}

private let auditColumns = "id, tenant_id, token_id, token_name, action, target, method, path, outcome, request_id, created_at"

private func auditEntry(_ row: PostgresRow) throws -> AuditEntry {
    AuditEntry(id: try row.decode("id"), tenantID: try row.decode("tenant_id"), tokenID: try row.decode("token_id"),
               tokenName: try row.decode("token_name"), action: try row.decode("action"), target: try row.decode("target"),
               method: try row.decode("method"), path: try row.decode("path"), outcome: try row.decode("outcome"),
               requestID: try row.decode("request_id"), createdAt: try row.decode("created_at"))
}

/// Newest first; `before` is the id of the last entry of the previous page.
private func queryAudit(_ connection: PostgresConnection, tenantID: String?, filter: AuditFilter, limit: Int, before: Int64?) throws -> [AuditEntry] {
    var low: Int? = nil, high: Int? = nil
    switch filter.outcome {
    case "success": (low, high) = (0, 399)
    case "failure": (low, high) = (400, 999)
    case let code?: if let status = Int(code) { (low, high) = (status, status) }
    case nil: break
    }
    let rows = try connection.query("""
        SELECT \(auditColumns) FROM audit_log
        WHERE ($1::text IS NULL OR tenant_id = $1)
          AND ($2::text IS NULL OR action = $2 OR starts_with(action, $2 || '.'))
          AND ($3::text IS NULL OR target = $3)
          AND ($4::timestamptz IS NULL OR created_at >= $4)
          AND ($5::timestamptz IS NULL OR created_at < $5)
          AND ($6::int8 IS NULL OR outcome BETWEEN $6 AND $7)
          AND ($8::text IS NULL OR token_id = $8)
          AND ($9::int8 IS NULL OR id < $9)
        ORDER BY id DESC
        LIMIT $10
        """, [tenantID, filter.action, filter.target, filter.since, filter.until, low, high, filter.tokenID, before, limit + 1])
    return try rows.map(auditEntry)
}

extension SystemTransaction {
    public func recordAudit(_ entry: AuditEntry) throws {
        _ = try connection.execute("""
            INSERT INTO audit_log (tenant_id, token_id, token_name, action, target, method, path, outcome, request_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, [entry.tenantID, entry.tokenID, entry.tokenName, entry.action, entry.target, entry.method,
                  entry.path, entry.outcome, entry.requestID])
    }

    /// Across tenants (or one, with `filter.tenantID`).
    public func auditEntries(filter: AuditFilter, limit: Int, before: Int64?) throws -> [AuditEntry] {
        try queryAudit(connection, tenantID: filter.tenantID, filter: filter, limit: limit, before: before)
    }
}

extension TenantTransaction {
    /// The tenant's own entries (row-level security would hide others' anyway).
    public func auditEntries(filter: AuditFilter, limit: Int, before: Int64?) throws -> [AuditEntry] {
        try queryAudit(connection, tenantID: tenantID, filter: filter, limit: limit, before: before)
    }
}
