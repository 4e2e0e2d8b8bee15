import CaaSModel
import CaaSPostgres
import Foundation

/// The record of one rollout of an application: create, update to a new generation.
public struct DeploymentRecord: Sendable, Equatable {
    public var id: String
    public var applicationID: String
    public var generation: Int64
    public var fromGeneration: Int64?
    public var toGeneration: Int64
    /// `create` (first generation) or `rolling` (a later one).
    public var strategy: String
    /// `pending`, `in_progress`, `succeeded`, `failed`, `rolled_back`, `superseded`.
    public var status: String
    public var progressUpdated: Int
    public var progressTotal: Int
    /// `succeeded`, `failed`, `rolled_back` once finished (nil while running or when superseded).
    public var outcome: String?
    public var reason: String?
    public var startedAt: Date
    public var finishedAt: Date?
    public var deadline: Date
    public var version: Int64
    public var createdAt: Date
}

let deploymentColumns = """
    id, application_id, generation, from_generation, to_generation, strategy, status, progress_updated::int8 AS progress_updated,
    progress_total::int8 AS progress_total, outcome, reason, started_at, finished_at, deadline, version, created_at,
    created_at::text AS sort_time
    """

extension DeploymentRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        applicationID = try row.decode("application_id")
        generation = try row.decode("generation")
        fromGeneration = try row.decode("from_generation")
        toGeneration = try row.decode("to_generation")
        strategy = try row.decode("strategy")
        status = try row.decode("status")
        progressUpdated = try row.decode("progress_updated")
        progressTotal = try row.decode("progress_total")
        outcome = try row.decode("outcome")
        reason = try row.decode("reason")
        startedAt = try row.decode("started_at")
        finishedAt = try row.decode("finished_at")
        deadline = try row.decode("deadline")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
    }
}

extension TenantTransaction {
    /// Records the rollout to generation `to`; an unfinished earlier rollout is superseded.
    func startDeployment(applicationID: String, appName: String, from: Int64?, to: Int64, strategy: String,
                         spec: AppSpec, rollout: RolloutSettings) throws -> DeploymentRecord {
        // A first rollout has nothing to supersede.
        if from != nil { try supersedeDeployments(applicationID: applicationID, reason: "superseded by generation \(to)") }
        let total = spec.services.filter { $0.mode == .replicated }.reduce(0) { $0 + $1.replicas }
        let id = Identifier.make(.deployment)
        let rows = try connection.query("""
            INSERT INTO deployments (id, tenant_id, application_id, generation, from_generation, to_generation, strategy,
                                     status, progress_total, reason, deadline)
            VALUES ($1, $2, $3, $4, $5, $4, $6, 'pending', $7, $8, now() + make_interval(secs => $9))
            RETURNING \(deploymentColumns)
            """, [id, tenantID, applicationID, to, from, strategy, total,
                  "waiting for the scheduler", rollout.deadlineSeconds])
        let summary = from.map { "rollout of \(appName) from generation \($0) to \(to) recorded" }
            ?? "first rollout of \(appName) (generation \(to)) recorded"
        try appendEvent(type: "deployment.created", objectKind: "deployment", objectID: id, summary: summary)
        return try DeploymentRecord(row: rows[0])
    }

    func supersedeDeployments(applicationID: String, reason: String) throws {
        let ids = try connection.query("""
            UPDATE deployments SET status = 'superseded', reason = $2, finished_at = now(), version = version + 1
            WHERE application_id = $1 AND status IN ('pending', 'in_progress')
            RETURNING id
            """, [applicationID, reason]).map { try $0.decode("id", as: String.self) }
        for id in ids {
            try appendEvent(type: "deployment.superseded", objectKind: "deployment", objectID: id, summary: reason)
        }
    }

    public func deployment(_ id: String) throws -> DeploymentRecord? {
        try connection.query("SELECT \(deploymentColumns) FROM deployments WHERE id = $1 AND tenant_id = $2", [id, tenantID])
            .first.map(DeploymentRecord.init(row:))
    }

    /// An application's deployments, oldest first.
    public func deployments(applicationID: String, status: String?, limit: Int, after: [String]?) throws -> [(DeploymentRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(deploymentColumns) FROM deployments
            WHERE tenant_id = $1 AND application_id = $2
              AND ($3::text IS NULL OR status = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::text))
            ORDER BY created_at, id
            LIMIT $6
            """, [tenantID, applicationID, status, after?[0], after?[1], limit + 1])
        return try rows.map { (try DeploymentRecord(row: $0), try CreationOrder.key($0)) }
    }
}
