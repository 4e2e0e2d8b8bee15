import CaaSPostgres
import Logging

/// Where the store gets connections: the CaaSPostgres pool in the server and in tests. The body
/// runs on the connection's own thread (libpq calls block).
public protocol ConnectionSource: Sendable {
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T
}

public struct StoreConfiguration: Sendable, Equatable {
    /// The role every transaction runs as (`SET LOCAL ROLE`); migration 0001 creates `caas_app`.
    /// `nil` when the login role itself is the application role (not a superuser, no BYPASSRLS).
    public var applicationRole: String? = "caas_app"

    public init(applicationRole: String? = "caas_app") {
        self.applicationRole = applicationRole
    }
}

/// The entry point of persistence: transactions in a tenant's scope or the system scope.
///
/// Every transaction begins with one statement that sets, for this transaction only, the role
/// (so row-level security applies even when the login role is the owner or a superuser), the
/// tenant (`caas.tenant_id`) and whether the system scope is on (`caas.system`).
public final class Store: Sendable {
    public let source: any ConnectionSource
    public let configuration: StoreConfiguration
    public let logger: Logger
    /// Woken after every commit that appended events (and by the LISTEN connection, for the
    /// events other replicas write).
    public let eventNotifier: EventNotifier

    public init(source: any ConnectionSource, configuration: StoreConfiguration = StoreConfiguration(),
                logger: Logger = Logger(label: "caas.store")) {
        self.source = source
        self.configuration = configuration
        self.logger = logger
        self.eventNotifier = EventNotifier()
    }

    /// Runs `body` in one transaction scoped to `scope`; commits when it returns, rolls back when
    /// it throws. Transient failures (serialization, deadlock) are retried a few times.
    public func transaction<T: Sendable>(
        _ scope: TenantScope,
        _ body: @escaping @Sendable (TenantTransaction) throws -> T
    ) async throws -> T {
        let role = configuration.applicationRole
        return try await retrying {
            let effects = TransactionEffects()
            let value = try await self.source.withConnection { connection in
                try connection.transaction { connection in
                    try Store.begin(connection, role: role, tenantID: scope.tenantID, system: false)
                    return try body(TenantTransaction(scope: scope, connection: connection, effects: effects))
                }
            }
            self.committed(effects)
            return value
        }
    }

    /// Runs `body` in one transaction that sees every tenant. Only code paths that must cross
    /// tenants call this (system administrator routes, authentication, workers, retention).
    public func systemTransaction<T: Sendable>(
        _ body: @escaping @Sendable (SystemTransaction) throws -> T
    ) async throws -> T {
        let role = configuration.applicationRole
        return try await retrying {
            let effects = TransactionEffects()
            let value = try await self.source.withConnection { connection in
                try connection.transaction { connection in
                    try Store.begin(connection, role: role, tenantID: "", system: true)
                    return try body(SystemTransaction(connection: connection, effects: effects))
                }
            }
            self.committed(effects)
            return value
        }
    }

    private func committed(_ effects: TransactionEffects) {
        for (tenantID, eventID) in effects.newestEvents {
            eventNotifier.publish(tenantID: tenantID, eventID: eventID)
        }
    }

    static func begin(_ connection: PostgresConnection, role: String?, tenantID: String, system: Bool) throws {
        if let role {
            _ = try connection.query(
                "SELECT set_config('role', $1, true), set_config('caas.tenant_id', $2, true), set_config('caas.system', $3, true)",
                [role, tenantID, system ? "on" : "off"])
        } else {
            _ = try connection.query(
                "SELECT set_config('caas.tenant_id', $1, true), set_config('caas.system', $2, true)",
                [tenantID, system ? "on" : "off"])
        }
    }

    /// Fails when the role transactions run as would bypass row-level security. Call at start-up.
    public func verifyRowSecurity() async throws {
        let role = configuration.applicationRole
        let (name, bypasses) = try await source.withConnection { connection in
            try connection.transaction { connection in
                try Store.begin(connection, role: role, tenantID: "", system: false)
                let row = try connection.query(
                    "SELECT current_user::text AS name, (rolsuper OR rolbypassrls) AS bypasses FROM pg_roles WHERE rolname = current_user")[0]
                return (try row.decode("name", as: String.self), try row.decode("bypasses", as: Bool.self))
            }
        }
        if bypasses { throw StoreError.rowSecurityBypassed(role: name) }
    }

    private func retrying<T: Sendable>(_ attempt: () async throws -> T) async throws -> T {
        var tries = 0
        while true {
            do {
                return try await attempt()
            } catch let error as PostgresError where error.isTransient && tries < 4 {
                tries += 1
                logger.debug("retrying a transaction after a transient failure", metadata: ["error": "\(error)"])
                try await Task.sleep(nanoseconds: UInt64(tries) * 20_000_000)
            }
        }
    }
}
