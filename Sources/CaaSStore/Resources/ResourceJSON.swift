import CaaSPostgres
import Foundation

/// JSON columns of the resource tables: written as text with sorted keys, read back with the
/// same coders (the storage form, not the API's snake_case form).
enum ResourceJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func labels(_ row: PostgresRow, _ column: String) throws -> [String: String] {
        (try? decode([String: String].self, try row.decode(column, as: String.self))) ?? [:]
    }
}

/// Sort keys of list pages: `[created_at as text, id]`, the order every resource list uses.
enum CreationOrder {
    static func key(_ row: PostgresRow) throws -> [String] {
        [try row.decode("sort_time", as: String.self), try row.decode("id", as: String.self)]
    }
}

extension PostgresError {
    var isUniqueViolationOf: String? {
        sqlState == "23505" ? (constraintName ?? "") : nil
    }
}

extension TenantTransaction {
    /// Every resource mutation starts here. Writers of one tenant take turns on its row anyway
    /// (the event counter of `appendEvent`); taking that lock first gives every writer the same
    /// order — tenant, then resource rows — so two resource writers never deadlock. A handler that
    /// reads an object and writes a change computed from it (a merge patch) calls this before the
    /// read, so what it read is still current when it writes.
    public func beginWrite() throws {
        _ = try connection.query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", [tenantID])
    }
}
