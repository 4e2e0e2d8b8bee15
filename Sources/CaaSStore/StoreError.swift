import CaaSPostgres

/// The store's one error type. The API layer maps each case to its HTTP answer.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No such object in the scope (another tenant's object is "not found" too).
    case notFound(kind: String, id: String)
    /// A unique name or another invariant is taken.
    case conflict(String)
    /// Creating would exceed the tenant's quota; nothing was written.
    case quotaExceeded(quota: String, limit: Int, used: Int)
    /// The caller's expected version is stale.
    case versionMismatch(current: Int64)
    /// The object is referenced by others and cannot be deleted.
    case inUse(String)
    /// The database role the store runs as bypasses row-level security.
    case rowSecurityBypassed(role: String)

    public var description: String {
        switch self {
        case .notFound(let kind, let id): "no \(kind) \(id)"
        case .conflict(let detail): detail
        case .quotaExceeded(let quota, let limit, let used): "the \(quota) quota is \(limit) and \(used) are in use"
        case .versionMismatch(let current): "stale version: the current version is \(current)"
        case .inUse(let detail): detail
        case .rowSecurityBypassed(let role):
            "database role \(role) is a superuser or has BYPASSRLS: connect as a role that row-level security applies to"
        }
    }
}

extension PostgresError {
    var isForeignKeyViolation: Bool { sqlState == "23503" }
}
