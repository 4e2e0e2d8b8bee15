import Foundation

/// One column of a result: its name and type.
public struct PostgresColumn: Sendable, Hashable {
    public var name: String
    public var type: PostgresDataType
}

/// The rows of one statement's result, copied out of libpq's `PGresult` (which is freed at once),
/// so rows are plain values that can leave the connection's thread.
public struct PostgresRows: Sendable, RandomAccessCollection {
    final class Storage: Sendable {
        let columns: [PostgresColumn]
        let columnIndex: [String: Int]
        /// Row-major cells; nil is SQL NULL.
        let cells: [[UInt8]?]
        let rowCount: Int

        init(columns: [PostgresColumn], cells: [[UInt8]?], rowCount: Int) {
            self.columns = columns
            var index: [String: Int] = [:]
            for (position, column) in columns.enumerated() where index[column.name] == nil {
                index[column.name] = position
            }
            self.columnIndex = index
            self.cells = cells
            self.rowCount = rowCount
        }
    }

    let storage: Storage
    /// The command tag, e.g. `INSERT 0 1`, `UPDATE 3`, `SELECT 2`.
    public let commandTag: String
    /// Rows inserted, updated, deleted, selected, … by the statement (from the command tag).
    public let affectedRows: Int

    init(storage: Storage, commandTag: String, affectedRows: Int) {
        self.storage = storage
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    public var columns: [PostgresColumn] { storage.columns }
    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.rowCount }
    public subscript(position: Int) -> PostgresRow { PostgresRow(storage: storage, row: position) }
}

/// One row of a result. Decode its columns by name or by index:
/// ```swift
/// let name = try row.decode("name", as: String.self)
/// let deletedAt = try row.decode("deleted_at", as: Date?.self)
/// ```
public struct PostgresRow: Sendable {
    let storage: PostgresRows.Storage
    let row: Int

    public var columns: [PostgresColumn] { storage.columns }

    /// Decodes the column named `column` (the first one of that name).
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let index = storage.columnIndex[column] else {
            let known = storage.columns.map(\.name).joined(separator: ", ")
            throw PostgresError(kind: .decoding, message: "no column named \"\(column)\" in the result (columns: \(known))")
        }
        return try decode(index, as: type)
    }

    /// Decodes the column at `index` (0-based).
    public func decode<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        guard index >= 0, index < storage.columns.count else {
            throw PostgresError(kind: .decoding, message: "no column at index \(index): the result has \(storage.columns.count) columns")
        }
        let column = storage.columns[index]
        let cell = storage.cells[row * storage.columns.count + index]
        do {
            guard let cell else { return try T.decodeNull() }
            return try T.decode(postgresText: cell, type: column.type)
        } catch let failure as PostgresDecodingFailure {
            throw PostgresError(
                kind: .decoding,
                message: "column \"\(column.name)\" (index \(index), type \(column.type)) cannot be decoded as \(T.self): \(failure.reason)"
            )
        }
    }

    /// Decodes a `json`/`jsonb` column into a `Decodable` value.
    public func decodeJSON<T: Codable & Sendable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try decode(column, as: PostgresJSON<T>.self).value
    }

    /// Whether the column is SQL NULL in this row.
    public func isNull(_ column: String) throws -> Bool {
        guard let index = storage.columnIndex[column] else {
            throw PostgresError(kind: .decoding, message: "no column named \"\(column)\" in the result")
        }
        return storage.cells[row * storage.columns.count + index] == nil
    }
}
