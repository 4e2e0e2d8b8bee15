import Foundation
import Logging

/// Applies ``Migration``s in order, each in its own transaction, recording each in
/// `schema_migrations (version, name, checksum, applied_at)`.
///
/// - The checksum is SHA-256 of the SQL text, computed by PostgreSQL
///   (`encode(sha256(convert_to($1, 'UTF8')), 'hex')`); an applied migration whose text changed
///   is refused, naming the file.
/// - Several processes may migrate at once: the whole run holds `pg_advisory_lock(lockKey)` on
///   one connection, so each migration is applied exactly once; latecomers find it done.
public struct Migrator: Sendable {
    /// The advisory lock key of migrations ("caasmigr" in ASCII).
    public static let lockKey: Int64 = 0x6361_6173_6D69_6772

    public let pool: PostgresPool
    public let migrations: [Migration]
    private let logger: Logger

    public init(pool: PostgresPool, migrations: [Migration], logger: Logger = Logger(label: "caas.postgres.migrations")) throws {
        self.pool = pool
        self.migrations = try Migration.validate(migrations)
        self.logger = logger
    }

    public init(pool: PostgresPool, directory: String, logger: Logger = Logger(label: "caas.postgres.migrations")) throws {
        try self.init(pool: pool, migrations: Migration.load(directory: directory), logger: logger)
    }

    /// Applies the pending migrations; returns those this call applied (empty when another
    /// process did them first).
    @discardableResult
    public func migrate() async throws -> [Migration] {
        let migrations = self.migrations
        let logger = self.logger
        return try await pool.withConnection { connection in
            try connection.execute("SELECT pg_advisory_lock($1)", [Self.lockKey])
            defer {
                if !connection.isBroken {
                    _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [Self.lockKey])
                }
            }
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            let status = try Self.status(connection, migrations)
            if let changed = status.changed.first {
                let recorded = status.applied.first { $0.version == changed.version }?.checksum ?? "?"
                throw PostgresError(
                    kind: .migration,
                    message: "migration \(changed.fileName) was changed after it was applied (checksum recorded \(recorded.prefix(12))…, file now \(try Self.checksum(connection, changed.sql).prefix(12))…); add a new migration instead of editing an applied one"
                )
            }
            if let first = status.pending.first, let newest = status.applied.map(\.version).max(), first.version < newest {
                throw PostgresError(kind: .migration, message: "migration \(first.fileName) is pending but a later one (\(newest)) is already applied; renumber it after \(newest)")
            }
            if !status.unknown.isEmpty {
                logger.warning("the database has migrations this build does not know", metadata: ["versions": .stringConvertible(status.unknown.map(\.version))])
            }
            var applied: [Migration] = []
            for migration in status.pending {
                let started = Date()
                do {
                    try connection.transaction { connection in
                        // A migration may take longer than the session's statement_timeout allows
                        // requests (and may wait for locks): it runs without it.
                        try connection.execute("SELECT set_config('statement_timeout', '0', true)")
                        try connection.executeScript(migration.sql)
                        try connection.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
                            [migration.version, migration.name, migration.sql]
                        )
                    }
                } catch let error as PostgresError {
                    var named = error
                    named.message = "migration \(migration.fileName) failed: \(error.message)"
                    throw named
                }
                logger.info("applied migration", metadata: [
                    "migration": .string(migration.fileName),
                    "ms": .stringConvertible(Int(Date().timeIntervalSince(started) * 1000)),
                ])
                applied.append(migration)
            }
            return applied
        }
    }

    /// Applied, pending, changed and unknown migrations (no lock taken, nothing written).
    public func status() async throws -> MigrationStatus {
        let migrations = self.migrations
        return try await pool.withConnection { connection in
            try Self.status(connection, migrations)
        }
    }

    static func status(_ connection: PostgresConnection, _ migrations: [Migration]) throws -> MigrationStatus {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")[0].decode("present", as: Bool.self)
        var applied: [AppliedMigration] = []
        if exists {
            applied = try connection.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").map { row in
                AppliedMigration(
                    version: try row.decode("version"),
                    name: try row.decode("name"),
                    checksum: try row.decode("checksum"),
                    appliedAt: try row.decode("applied_at")
                )
            }
        }
        let appliedByVersion = Dictionary(applied.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        var pending: [Migration] = []
        var changed: [Migration] = []
        for migration in migrations {
            guard let record = appliedByVersion[migration.version] else {
                pending.append(migration)
                continue
            }
            if try checksum(connection, migration.sql) != record.checksum { changed.append(migration) }
        }
        let known = Set(migrations.map(\.version))
        return MigrationStatus(applied: applied, pending: pending, changed: changed, unknown: applied.filter { !known.contains($0.version) })
    }

    static func checksum(_ connection: PostgresConnection, _ sql: String) throws -> String {
        try connection.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS checksum", [sql])[0].decode("checksum")
    }
}
