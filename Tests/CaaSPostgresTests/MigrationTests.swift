import CaaSPostgres
import CaaSTestSupport
import Foundation
import Testing

@Suite("Migrator: ordered, checksummed, once across processes")
struct MigrationTests {
    /// A fresh directory of migration files.
    func makeDirectory(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("caas-migrations-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, sql) in files {
            try sql.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return directory
    }

    let base = [
        "0001_create_apps.sql": "CREATE TABLE apps (id text PRIMARY KEY, name text NOT NULL);",
        "0002_add_generation.sql": "ALTER TABLE apps ADD COLUMN generation bigint NOT NULL DEFAULT 1;\nCREATE INDEX apps_name ON apps (name);",
        "0003_seed.sql": "INSERT INTO apps (id, name) VALUES ('app_1', 'web');",
        "README.md": "ignored",
    ]

    @Test func appliesInOrderOnceAndReportsStatus() async throws {
        let db = try await TestPostgres.makeDatabase(label: "migrate")
        let directory = try makeDirectory(base)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let migrator = try Migrator(pool: db.pool, directory: directory)
        let before = try await migrator.status()
        #expect(before.pending.map(\.version) == [1, 2, 3])
        #expect(!before.isUpToDate)

        let applied = try await migrator.migrate()
        #expect(applied.map(\.fileName) == ["0001_create_apps.sql", "0002_add_generation.sql", "0003_seed.sql"])
        let again = try await migrator.migrate()
        #expect(again.isEmpty)

        let status = try await migrator.status()
        #expect(status.isUpToDate)
        #expect(status.applied.map(\.version) == [1, 2, 3])
        #expect(status.applied.allSatisfy { $0.checksum.count == 64 })
        let generation = try await db.pool.withConnection { try $0.query("SELECT generation FROM apps WHERE id = $1", ["app_1"])[0].decode("generation", as: Int.self) }
        #expect(generation == 1)

        // A new file later is applied on the next run.
        var more = base
        more["0004_more.sql"] = "ALTER TABLE apps ADD COLUMN note text;"
        let directory2 = try makeDirectory(more)
        defer { try? FileManager.default.removeItem(atPath: directory2) }
        let next = try Migrator(pool: db.pool, directory: directory2)
        #expect(try await next.status().pending.map(\.version) == [4])
        #expect(try await next.migrate().map(\.version) == [4])
    }

    @Test func aChangedAppliedMigrationIsRefusedByName() async throws {
        let db = try await TestPostgres.makeDatabase(label: "checksum")
        try await Migrator(pool: db.pool, migrations: [
            Migration(version: 1, name: "create", sql: "CREATE TABLE t (n int);"),
        ]).migrate()
        let edited = try Migrator(pool: db.pool, migrations: [
            Migration(version: 1, name: "create", sql: "CREATE TABLE t (n bigint);"),
            Migration(version: 2, name: "next", sql: "CREATE TABLE u (n int);"),
        ])
        let error = await #expect(throws: PostgresError.self) { try await edited.migrate() }
        #expect(error?.kind == .migration)
        #expect(error?.message.contains("0001_create.sql") == true)
        let status = try await edited.status()
        #expect(status.changed.map(\.version) == [1])
        #expect(!status.isUpToDate)
        // Nothing after the refusal was applied.
        let exists = try await db.pool.withConnection { try $0.query("SELECT to_regclass('u') IS NOT NULL AS e")[0].decode("e", as: Bool.self) }
        #expect(!exists)
    }

    @Test func checksumIsSHA256ComputedByPostgres() async throws {
        let db = try await TestPostgres.makeDatabase(label: "sha")
        try await Migrator(pool: db.pool, migrations: [Migration(version: 1, name: "x", sql: "SELECT 1;")]).migrate()
        let recorded = try await db.pool.withConnection { try $0.query("SELECT checksum FROM schema_migrations")[0].decode("checksum", as: String.self) }
        // sha256("SELECT 1;")
        #expect(recorded == "17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a")
    }

    @Test func aFailingMigrationLeavesNothingAndNamesTheFile() async throws {
        let db = try await TestPostgres.makeDatabase(label: "failing")
        let migrator = try Migrator(pool: db.pool, migrations: [
            Migration(version: 1, name: "ok", sql: "CREATE TABLE a (n int);"),
            Migration(version: 2, name: "broken", sql: "CREATE TABLE b (n int);\nSELECT no_such_function();"),
        ])
        let error = await #expect(throws: PostgresError.self) { try await migrator.migrate() }
        #expect(error?.message.contains("0002_broken.sql") == true)
        #expect(error?.sqlState == "42883")
        let status = try await migrator.status()
        #expect(status.applied.map(\.version) == [1])
        #expect(status.pending.map(\.version) == [2])
        let bExists = try await db.pool.withConnection { try $0.query("SELECT to_regclass('b') IS NOT NULL AS e")[0].decode("e", as: Bool.self) }
        #expect(!bExists)
    }

    @Test func gapsDuplicatesAndBadNamesAreRefused() throws {
        let gap = try makeDirectory(["0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"])
        let duplicate = try makeDirectory(["0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"])
        let badName = try makeDirectory(["0001_a.sql": "SELECT 1;", "2_b.sql": "SELECT 1;"])
        defer { for directory in [gap, duplicate, badName] { try? FileManager.default.removeItem(atPath: directory) } }
        let gapError = #expect(throws: PostgresError.self) { try Migration.load(directory: gap) }
        #expect(gapError?.message.contains("0002") == true)
        let duplicateError = #expect(throws: PostgresError.self) { try Migration.load(directory: duplicate) }
        #expect(duplicateError?.message.contains("0001_a.sql") == true)
        #expect(duplicateError?.message.contains("0001_b.sql") == true)
        let badNameError = #expect(throws: PostgresError.self) { try Migration.load(directory: badName) }
        #expect(badNameError?.message.contains("2_b.sql") == true)
    }

    @Test func concurrentMigratorsApplyEachMigrationExactlyOnce() async throws {
        let db = try await TestPostgres.makeDatabase(label: "concurrent")
        // Not idempotent on purpose: running any of them twice would fail.
        let migrations = [
            Migration(version: 1, name: "slow_create", sql: "SELECT pg_sleep(0.3); CREATE TABLE once (n int);"),
            Migration(version: 2, name: "insert", sql: "INSERT INTO once VALUES (1);"),
            Migration(version: 3, name: "unique", sql: "CREATE UNIQUE INDEX once_n ON once (n);"),
        ]
        let poolA = db.makePool(maxConnections: 2)
        let poolB = db.makePool(maxConnections: 2)
        defer { poolA.shutdown(); poolB.shutdown() }
        let a = try Migrator(pool: poolA, migrations: migrations)
        let b = try Migrator(pool: poolB, migrations: migrations)
        async let appliedA = a.migrate()
        async let appliedB = b.migrate()
        let (fromA, fromB) = try await (appliedA, appliedB)
        #expect((fromA.map(\.version) + fromB.map(\.version)).sorted() == [1, 2, 3])
        let rows = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM once")[0].decode("n", as: Int.self) }
        #expect(rows == 1)
        #expect(try await a.status().isUpToDate)
    }
}
