import CaaSPostgres

/// The quotas a tenant has. Each counts the rows of one table of the tenant.
public enum QuotaKind: String, Sendable, CaseIterable, Codable {
    case clusters
    case nodes
    case applications
    case containers

    /// The table whose rows of the tenant count against the quota.
    var table: String {
        switch self {
        case .clusters: "clusters"
        case .nodes: "nodes"
        case .applications: "applications"
        case .containers: "containers"
        }
    }

    /// The statement counting what the tenant uses now (`$1` = tenant id). The tables come with
    /// their issues; until a table exists its count is 0.
    var countSQL: String {
        switch self {
        case .clusters: "SELECT count(*)::int8 AS n FROM clusters WHERE tenant_id = $1"
        case .nodes: "SELECT count(*)::int8 AS n FROM nodes WHERE tenant_id = $1"
        case .applications: "SELECT count(*)::int8 AS n FROM applications WHERE tenant_id = $1"
        case .containers: "SELECT count(*)::int8 AS n FROM containers WHERE tenant_id = $1 AND desired_state <> 'removed'"
        }
    }
}

/// Defaults for tenants without an override (server configuration).
public struct QuotaDefaults: Sendable, Equatable {
    public var limits: [QuotaKind: Int]

    public init(clusters: Int = 10, nodes: Int = 100, applications: Int = 100, containers: Int = 1000) {
        limits = [.clusters: clusters, .nodes: nodes, .applications: applications, .containers: containers]
    }

    public func limit(_ kind: QuotaKind, overrides: [String: Int]) -> Int {
        overrides[kind.rawValue] ?? limits[kind] ?? 0
    }
}

extension TenantTransaction {
    /// Checks that `adding` more of `kind` fit the tenant's quota, inside the writer's transaction.
    ///
    /// It locks the tenant row first (`FOR UPDATE`): a concurrent creator of the same tenant waits
    /// here until this transaction ends, then counts what was committed. So two creates can never
    /// both pass on the same free slot; if the quota is exceeded nothing has been written yet.
    public func enforceQuota(_ kind: QuotaKind, adding: Int = 1, defaults: QuotaDefaults) throws {
        try enforceQuota(name: kind.rawValue, adding: adding, defaultLimit: defaults.limits[kind] ?? 0, countSQL: kind.countSQL)
    }

    /// The mechanism behind `enforceQuota(_:)`; `countSQL` is a constant of the calling repository.
    public func enforceQuota(name: String, adding: Int, defaultLimit: Int, countSQL: String) throws {
        let rows = try connection.query("SELECT (quotas ->> $2)::int8 AS override FROM tenants WHERE id = $1 FOR UPDATE", [tenantID, name])
        guard let row = rows.first else { throw StoreError.notFound(kind: "tenant", id: tenantID) }
        let limit = try row.decode("override", as: Int?.self) ?? defaultLimit
        let used = try connection.query(countSQL, [tenantID])[0].decode("n", as: Int.self)
        if used + adding > limit {
            throw StoreError.quotaExceeded(quota: name, limit: limit, used: used)
        }
    }

    /// Current use of every quota whose table exists.
    public func quotaUsage() throws -> [QuotaKind: Int] {
        var usage: [QuotaKind: Int] = [:]
        for kind in QuotaKind.allCases {
            let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [kind.table])[0].decode("present", as: Bool.self)
            usage[kind] = exists ? try connection.query(kind.countSQL, [tenantID])[0].decode("n", as: Int.self) : 0
        }
        return usage
    }
}
