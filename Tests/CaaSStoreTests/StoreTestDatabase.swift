import CaaSPostgres
import CaaSStore
import CaaSTestSupport
import Foundation

/// A fresh database with the repository's migrations applied, and a store on it that runs every
/// transaction as the application role `caas_app` (row-level security applies).
struct StoreTestDatabase {
    let database: TestDatabase
    let store: Store

    static func make(_ label: String) async throws -> StoreTestDatabase {
        let database = try await TestPostgres.makeDatabase(label: label)
        try await applyMigrations(database.pool)
        return StoreTestDatabase(database: database, store: Store(source: database.pool))
    }

    static var migrationsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
    }

    static func applyMigrations(_ pool: PostgresPool) async throws {
        _ = try await Migrator(pool: pool, directory: migrationsDirectory.path).migrate()
    }

    /// Runs raw SQL as the application role with the given settings (nothing set by default):
    /// what a query that forgot its scope would see.
    func rawCount(_ table: String, tenant: String? = nil, system: Bool = false) async throws -> Int {
        try await database.pool.withConnection { connection in
            try connection.transaction { connection in
                _ = try connection.query("SELECT set_config('role', 'caas_app', true)")
                if let tenant { _ = try connection.query("SELECT set_config('caas.tenant_id', $1, true)", [tenant]) }
                if system { _ = try connection.query("SELECT set_config('caas.system', 'on', true)") }
                return try connection.query("SELECT count(*)::int8 AS n FROM \(table)")[0].decode("n", as: Int.self)
            }
        }
    }
}
