import CaaSPostgres
import Foundation

/// Events collected while applying a decision, appended to the tenant's sequence in two
/// statements (one counter update, one `INSERT … SELECT FROM unnest`) however many there are.
/// Same guarantees as `TenantTransaction.appendEvent`: the tenant row's lock orders ids by commit.
public struct EventBatch: Sendable {
    public struct Entry: Sendable, Equatable {
        public var type: String
        public var objectKind: String
        public var objectID: String
        public var summary: String
        public var dataJSON: String
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    public mutating func add(_ type: String, _ objectKind: String, _ objectID: String, _ summary: String,
                             data: [String: String] = [:]) {
        entries.append(Entry(type: type, objectKind: objectKind, objectID: objectID, summary: summary,
                             dataJSON: data.isEmpty ? "{}" : JobPayload.encode(data)))
    }

    /// Appends every entry to `tenantID`'s sequence; returns the last id (nil when empty).
    @discardableResult
    func append(tenantID: String, on connection: PostgresConnection) throws -> Int64? {
        guard !entries.isEmpty else { return nil }
        let rows = try connection.query(
            "UPDATE tenants SET last_event_id = last_event_id + $2 WHERE id = $1 RETURNING last_event_id",
            [tenantID, entries.count])
        guard let row = rows.first else { throw StoreError.notFound(kind: "tenant", id: tenantID) }
        let last: Int64 = try row.decode("last_event_id")
        let first = last - Int64(entries.count) + 1
        _ = try connection.execute("""
            INSERT INTO events (tenant_id, id, type, object_kind, object_id, summary, data)
            SELECT $1, $2 + u.n - 1, u.t, u.k, u.o, u.s, u.d::jsonb
            FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(t, k, o, s, d, n)
            """, [tenantID, first, entries.map(\.type), entries.map(\.objectKind), entries.map(\.objectID),
                  entries.map(\.summary), entries.map(\.dataJSON)])
        return last
    }
}
