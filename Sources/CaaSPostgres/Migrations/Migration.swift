import Foundation

/// One schema change: SQL applied once, in order, inside its own transaction.
public struct Migration: Sendable, Equatable {
    /// 1, 2, 3, … without gaps.
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// `NNNN_name.sql`, the name it has (or would have) in a migrations directory.
    public var fileName: String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "_" + name + ".sql"
    }

    /// Loads `NNNN_name.sql` files from `directory` (other files, like a README, are ignored;
    /// a `.sql` file with another name is refused) and validates the set.
    public static func load(directory: String) throws -> [Migration] {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw PostgresError(kind: .migration, message: "cannot read migrations directory \(directory): \(error)")
        }
        var migrations: [Migration] = []
        for entry in entries where entry.hasSuffix(".sql") {
            guard let (version, name) = parseFileName(entry) else {
                throw PostgresError(kind: .migration, message: "migration file \(entry) in \(directory) is not named NNNN_name.sql (four or more digits, then letters, digits, '_' or '-')")
            }
            let path = directory + "/" + entry
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PostgresError(kind: .migration, message: "cannot read migration file \(path)")
            }
            guard let sql = String(data: data, encoding: .utf8) else {
                throw PostgresError(kind: .migration, message: "migration file \(path) is not valid UTF-8")
            }
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        return try validate(migrations)
    }

    /// `0007_add_nodes.sql` → (7, "add_nodes"); nil for anything else.
    public static func parseFileName(_ fileName: String) -> (version: Int, name: String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        guard let underscore = stem.firstIndex(of: "_") else { return nil }
        let digits = stem[..<underscore]
        let name = stem[stem.index(after: underscore)...]
        guard digits.count >= 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let version = Int(digits), version > 0,
              !name.isEmpty,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else { return nil }
        return (version, String(name))
    }

    /// Sorts by version and refuses duplicate numbers, gaps, a first number other than 1, and
    /// empty SQL.
    public static func validate(_ migrations: [Migration]) throws -> [Migration] {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (index, migration) in sorted.enumerated() {
            if index > 0, sorted[index - 1].version == migration.version {
                throw PostgresError(kind: .migration, message: "duplicate migration number \(migration.version): \(sorted[index - 1].fileName) and \(migration.fileName)")
            }
            if migration.version != index + 1 {
                let missing = Migration(version: index + 1, name: "…", sql: "").fileName
                throw PostgresError(kind: .migration, message: "migration numbers must run 1, 2, 3, … without gaps: \(missing.prefix(4)) is missing before \(migration.fileName)")
            }
            if migration.sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw PostgresError(kind: .migration, message: "migration \(migration.fileName) is empty")
            }
        }
        return sorted
    }
}

/// A migration recorded in `schema_migrations`.
public struct AppliedMigration: Sendable, Equatable {
    public var version: Int
    public var name: String
    /// Hex SHA-256 of the SQL text (computed by PostgreSQL).
    public var checksum: String
    public var appliedAt: Date
}

/// Where the database stands against the migrations this build knows.
public struct MigrationStatus: Sendable {
    public var applied: [AppliedMigration]
    /// Known migrations not applied yet, in order.
    public var pending: [Migration]
    /// Applied migrations whose file changed since (refused by `migrate`).
    public var changed: [Migration]
    /// Applied versions this build does not know (the database is newer than the code).
    public var unknown: [AppliedMigration]

    /// Everything known is applied, unchanged: what `/readyz` wants.
    public var isUpToDate: Bool { pending.isEmpty && changed.isEmpty }
}
