import CaaSPostgres
import Foundation

public struct TokenRecord: Sendable, Equatable {
    public var id: String
    /// `nil` for the system administrator's tokens.
    public var tenantID: String?
    public var name: String
    /// `admin`, `operator`, `viewer` or `system`.
    public var role: String
    public var createdBy: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    public var version: Int64
}

let tokenColumns = """
    id, tenant_id, name, role, created_by, created_at, expires_at, revoked_at, last_used_at, version,
    created_at::text AS sort_time
    """

extension TokenRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        tenantID = try row.decode("tenant_id")
        name = try row.decode("name")
        role = try row.decode("role")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
        expiresAt = try row.decode("expires_at")
        revokedAt = try row.decode("revoked_at")
        lastUsedAt = try row.decode("last_used_at")
        version = try row.decode("version")
    }
}

/// A new token to store: the secret is already hashed; the store never sees the secret.
public struct NewToken: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: String
    /// Lower-case hex of SHA-256 of the secret.
    public var digestHex: String
    public var expiresAt: Date?
    public var createdBy: String?

    public init(id: String, name: String, role: String, digestHex: String, expiresAt: Date?, createdBy: String?) {
        self.id = id
        self.name = name
        self.role = role
        self.digestHex = digestHex
        self.expiresAt = expiresAt
        self.createdBy = createdBy
    }
}

/// What authentication learns from a digest: the token, its stored digest (for the constant-time
/// comparison) and its tenant's standing.
public struct TokenCredential: Sendable, Equatable {
    public var token: TokenRecord
    public var digestHex: String
    public var tenantName: String?
    public var tenantStatus: TenantStatus?
    public var tenantSuspendedReason: String?
}

public struct TokenFilter: Sendable, Equatable {
    public var role: String?
    /// Whether revoked tokens are listed too (default: only live ones).
    public var includeRevoked: Bool

    public init(role: String? = nil, includeRevoked: Bool = false) {
        self.role = role
        self.includeRevoked = includeRevoked
    }
}

extension TenantTransaction {
    public func createToken(_ new: NewToken) throws -> TokenRecord {
        let row = try connection.query("""
            INSERT INTO api_tokens (id, tenant_id, name, role, secret_digest, expires_at, created_by)
            VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6, $7)
            RETURNING \(tokenColumns)
            """, [new.id, tenantID, new.name, new.role, new.digestHex, new.expiresAt, new.createdBy])[0]
        let token = try TokenRecord(row: row)
        try appendEvent(type: "token.created", objectKind: "token", objectID: token.id,
                        summary: "token \(token.name) (\(token.role)) created")
        return token
    }

    public func token(_ id: String) throws -> TokenRecord? {
        try connection.query("SELECT \(tokenColumns) FROM api_tokens WHERE id = $1 AND tenant_id = $2", [id, tenantID])
            .first.map(TokenRecord.init(row:))
    }

    public func tokens(filter: TokenFilter, limit: Int, after: [String]?) throws -> [(TokenRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(tokenColumns) FROM api_tokens
            WHERE tenant_id = $1
              AND ($2::text IS NULL OR role = $2)
              AND ($3::bool OR revoked_at IS NULL)
              AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::text))
            ORDER BY created_at, id
            LIMIT $6
            """, [tenantID, filter.role, filter.includeRevoked, after?[0], after?[1], limit + 1])
        return try rows.map { row in
            (try TokenRecord(row: row), [try row.decode("sort_time", as: String.self), try row.decode("id", as: String.self)])
        }
    }

    /// Revokes a token (idempotent: revoking a revoked token keeps the first time).
    public func revokeToken(_ id: String, expectedVersion: Int64?) throws -> TokenRecord {
        let rows = try connection.query("""
            UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()), version = version + 1
            WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
            RETURNING \(tokenColumns)
            """, [id, tenantID, expectedVersion])
        guard let row = rows.first else {
            throw try StoreVersioning.missingOrStale(connection, table: "api_tokens", kind: "token", id: id)
        }
        let token = try TokenRecord(row: row)
        try appendEvent(type: "token.revoked", objectKind: "token", objectID: id, summary: "token \(token.name) revoked")
        return token
    }
}

extension SystemTransaction {
    /// The token whose secret hashes to `digestHex`, with its tenant's standing; `nil` if none.
    public func credential(digestHex: String) throws -> TokenCredential? {
        try credential(where: "t.secret_digest = decode($1, 'hex')", digestHex)
    }

    /// The same, found by the token's id: what a long-lived stream checks again now and then.
    public func credential(tokenID: String) throws -> TokenCredential? {
        try credential(where: "t.id = $1", tokenID)
    }

    private func credential(where condition: String, _ value: String) throws -> TokenCredential? {
        let rows = try connection.query("""
            SELECT t.id, t.tenant_id, t.name, t.role, t.created_by, t.created_at, t.expires_at, t.revoked_at,
                   t.last_used_at, t.version, t.created_at::text AS sort_time,
                   encode(t.secret_digest, 'hex') AS digest, n.name AS tenant_name, n.status AS tenant_status,
                   n.suspended_reason
            FROM api_tokens t LEFT JOIN tenants n ON n.id = t.tenant_id
            WHERE \(condition)
            """, [value])
        guard let row = rows.first else { return nil }
        return TokenCredential(
            token: try TokenRecord(row: row),
            digestHex: try row.decode("digest"),
            tenantName: try row.decode("tenant_name"),
            tenantStatus: (try row.decode("tenant_status", as: String?.self)).flatMap(TenantStatus.init(rawValue:)),
            tenantSuspendedReason: try row.decode("suspended_reason"))
    }

    /// Records a use of the token, at most once a `minimumInterval` (cheap: one indexed update
    /// that matches nothing when the last record is recent).
    public func touchToken(_ id: String, minimumInterval: Int = 60) throws {
        _ = try connection.execute("""
            UPDATE api_tokens SET last_used_at = now()
            WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
            """, [id, minimumInterval])
    }

    /// A token of the system administrator (bootstrap).
    public func createSystemToken(_ new: NewToken) throws -> TokenRecord {
        let row = try connection.query("""
            INSERT INTO api_tokens (id, tenant_id, name, role, secret_digest, expires_at, created_by)
            VALUES ($1, NULL, $2, 'system', decode($3, 'hex'), $4, $5)
            RETURNING \(tokenColumns)
            """, [new.id, new.name, new.digestHex, new.expiresAt, new.createdBy])[0]
        return try TokenRecord(row: row)
    }

    /// Revokes every live system administrator token except the one hashing to `keeping`;
    /// answers how many it revoked.
    @discardableResult
    public func revokeSystemTokens(keeping digestHex: String?) throws -> Int {
        try connection.execute("""
            UPDATE api_tokens SET revoked_at = now(), version = version + 1
            WHERE role = 'system' AND tenant_id IS NULL AND revoked_at IS NULL
              AND ($1::text IS NULL OR secret_digest <> decode($1, 'hex'))
            """, [digestHex])
    }

    /// How many live system administrator tokens exist (bootstrap creates one when none).
    public func liveSystemTokenCount() throws -> Int {
        try connection.query(
            "SELECT count(*)::int8 AS n FROM api_tokens WHERE role = 'system' AND revoked_at IS NULL")[0].decode("n", as: Int.self)
    }

    /// Creates a token in `tenantID` (the system administrator handing a tenant its first admin).
    public func createToken(in tenantID: String, _ new: NewToken) throws -> TokenRecord {
        guard try tenant(tenantID) != nil else { throw StoreError.notFound(kind: "tenant", id: tenantID) }
        return try asTenant(tenantID).createToken(new)
    }
}

extension SystemTransaction {
    /// Serializes start-up work between replicas for the rest of this transaction.
    public func lockBootstrap() throws {
        _ = try connection.query("SELECT pg_advisory_xact_lock(hashtext('caas.bootstrap'))::text")
    }

    /// The tenant with this name, if any.
    public func tenant(named name: String) throws -> TenantRecord? {
        try connection.query("SELECT \(tenantColumns) FROM tenants WHERE name = $1", [name]).first.map(TenantRecord.init(row:))
    }

    /// Takes the singleton lock of a periodic job for this transaction; false when another
    /// replica holds it.
    public func trySingletonLock(_ name: String) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS taken", [name])[0].decode("taken", as: Bool.self)
    }
}
