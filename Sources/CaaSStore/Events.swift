import CaaSPostgres
import Foundation

public struct EventRecord: Sendable, Equatable {
    public var id: Int64
    public var tenantID: String
    public var type: String
    public var objectKind: String
    public var objectID: String
    public var summary: String
    /// The event's data as JSON object text.
    public var dataJSON: String
    public var createdAt: Date
}

/// The channel `events` inserts notify on (trigger of migration 0001); payload `tenant_id:event_id`.
public let eventsChannel = "caas_events"

extension TenantTransaction {
    /// Appends an event to the tenant's sequence, in this transaction.
    ///
    /// The id comes from the tenant row's counter (`UPDATE … RETURNING`), whose row lock is held
    /// until this transaction ends: a second writer of the same tenant waits, so ids are taken
    /// and committed in the same order and a reader never sees id n+1 before id n exists.
    @discardableResult
    public func appendEvent(type: String, objectKind: String, objectID: String, summary: String,
                            dataJSON: String = "{}") throws -> Int64 {
        let rows = try connection.query(
            "UPDATE tenants SET last_event_id = last_event_id + 1 WHERE id = $1 RETURNING last_event_id", [tenantID])
        guard let row = rows.first else { throw StoreError.notFound(kind: "tenant", id: tenantID) }
        let id: Int64 = try row.decode("last_event_id")
        _ = try connection.execute("""
            INSERT INTO events (tenant_id, id, type, object_kind, object_id, summary, data)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
            """, [tenantID, id, type, objectKind, objectID, summary, dataJSON])
        effects.appended(tenantID: tenantID, eventID: id)
        return id
    }

    /// Events after `after`, oldest first, at most `limit`.
    public func events(after: Int64, limit: Int, type: String? = nil, objectID: String? = nil) throws -> [EventRecord] {
        let rows = try connection.query("""
            SELECT id, tenant_id, type, object_kind, object_id, summary, data::text AS data, created_at
            FROM events
            WHERE tenant_id = $1 AND id > $2
              AND ($3::text IS NULL OR type = $3 OR starts_with(type, $3 || '.'))
              AND ($4::text IS NULL OR object_id = $4)
            ORDER BY id
            LIMIT $5
            """, [tenantID, after, type, objectID, limit])
        return try rows.map { row in
            EventRecord(id: try row.decode("id"), tenantID: try row.decode("tenant_id"), type: try row.decode("type"),
                        objectKind: try row.decode("object_kind"), objectID: try row.decode("object_id"),
                        summary: try row.decode("summary"), dataJSON: try row.decode("data"),
                        createdAt: try row.decode("created_at"))
        }
    }

    /// The newest event id of the tenant (0 when none yet).
    public func lastEventID() throws -> Int64 {
        try tenant().lastEventID
    }
}
