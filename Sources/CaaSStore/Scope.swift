import CaaSPostgres

/// The tenant a unit of work belongs to. Every tenant query of the store needs one: the store has
/// no API that reads or writes tenant-owned rows without it.
public struct TenantScope: Sendable, Hashable, CustomStringConvertible {
    public let tenantID: String

    public init(tenantID: String) {
        precondition(!tenantID.isEmpty, "a tenant scope needs a tenant id")
        self.tenantID = tenantID
    }

    public var description: String { tenantID }
}

/// A transaction scoped to one tenant: `caas.tenant_id` is set, row-level security shows only the
/// tenant's rows. Only the store's repositories (this module) can run SQL on it.
public struct TenantTransaction {
    public let scope: TenantScope
    let connection: PostgresConnection
    let effects: TransactionEffects

    init(scope: TenantScope, connection: PostgresConnection, effects: TransactionEffects) {
        self.scope = scope
        self.connection = connection
        self.effects = effects
    }

    var tenantID: String { scope.tenantID }
}

/// A transaction that sees every tenant (`caas.system = on`): the system administrator's routes,
/// authentication, workers, retention. Only `Store.systemTransaction` makes one.
public struct SystemTransaction {
    let connection: PostgresConnection
    let effects: TransactionEffects

    init(connection: PostgresConnection, effects: TransactionEffects) {
        self.connection = connection
        self.effects = effects
    }

    /// The same connection as seen by one tenant, for writes that must land in that tenant's
    /// event sequence (the scope is also set on the connection, so RLS checks hold).
    func asTenant(_ tenantID: String) -> TenantTransaction {
        TenantTransaction(scope: TenantScope(tenantID: tenantID), connection: connection, effects: effects)
    }
}

/// What a transaction did that others must hear of once it commits (the newest event id per
/// tenant, for in-process wake-ups; other replicas hear of it through LISTEN/NOTIFY).
final class TransactionEffects: @unchecked Sendable {
    private(set) var newestEvents: [String: Int64] = [:]

    func appended(tenantID: String, eventID: Int64) {
        newestEvents[tenantID] = max(eventID, newestEvents[tenantID] ?? 0)
    }
}
