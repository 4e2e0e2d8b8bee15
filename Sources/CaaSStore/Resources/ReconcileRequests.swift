import CaaSPostgres
import Foundation

/// The hook where API mutations hand work to the scheduler (issue 5). Application create,
/// update, scale and delete call `enqueue` in their own transaction, so the request commits
/// with the change or not at all; the insert's trigger notifies `caas_reconcile` at commit.
/// The reconciler claims pending rows with `FOR UPDATE SKIP LOCKED`.
public enum ReconcileRequests {
    /// The LISTEN channel (payload `tenant_id:application_id`).
    public static let channel = "caas_reconcile"

    public static func enqueue(app applicationID: String, reason: String, in transaction: TenantTransaction) throws {
        _ = try transaction.connection.execute(
            "INSERT INTO reconcile_requests (tenant_id, application_id, reason) VALUES ($1, $2, $3)",
            [transaction.tenantID, applicationID, reason])
    }
}

public struct ReconcileRequestRecord: Sendable, Equatable {
    public var id: Int64
    public var applicationID: String
    public var reason: String
    public var createdAt: Date
    public var doneAt: Date?
}

extension TenantTransaction {
    /// The tenant's reconcile requests for one application, oldest first (for tests and operators).
    public func reconcileRequests(applicationID: String) throws -> [ReconcileRequestRecord] {
        try connection.query("""
            SELECT id, application_id, reason, created_at, done_at FROM reconcile_requests
            WHERE tenant_id = $1 AND application_id = $2 ORDER BY id
            """, [tenantID, applicationID]).map { row in
            ReconcileRequestRecord(id: try row.decode("id"), applicationID: try row.decode("application_id"),
                                   reason: try row.decode("reason"), createdAt: try row.decode("created_at"),
                                   doneAt: try row.decode("done_at"))
        }
    }
}
