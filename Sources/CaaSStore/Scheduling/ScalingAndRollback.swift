import CaaSModel
import CaaSPlanner
import CaaSPostgres
import Foundation

/// A service with an autoscaling policy, with the CPU its running containers reported lately.
public struct AutoscalingCandidate: Sendable, Equatable {
    public var serviceID: String
    public var tenantID: String
    public var applicationID: String
    public var name: String
    public var policy: AutoScalingPolicy
    public var desiredReplicas: Int
    public var lastScaledAt: Date?
    public var cpuSamples: [Double]
}

extension SystemTransaction {
    /// Services with an autoscaling policy (applications not being deleted), with the CPU percent
    /// of their running containers reported within `sampleWindow` seconds.
    public func autoscalingCandidates(sampleWindow: Double) throws -> [AutoscalingCandidate] {
        try connection.query("""
            SELECT s.id, s.tenant_id, s.application_id, s.name, s.spec::text AS spec, s.desired_replicas::int8 AS desired,
                   s.last_scaled_at,
                   ARRAY(SELECT c.cpu_percent FROM containers c
                         WHERE c.service_id = s.id AND c.desired_state = 'running' AND c.observed_state = 'running'
                           AND c.replaced_by IS NULL AND c.cpu_percent IS NOT NULL
                           AND c.stats_at > now() - make_interval(secs => $1)
                         ORDER BY c.id) AS samples
            FROM services s JOIN applications a ON a.id = s.application_id
            WHERE s.kind = 'container' AND s.mode = 'replicated' AND s.status <> 'removing' AND a.status <> 'deleting'
              AND s.spec ? 'autoScaling'
            ORDER BY s.id
            """, [sampleWindow]).compactMap { row in
            guard let policy = try StoredJSON.decode(ServiceSpec.self, try row.decode("spec")).autoScaling else { return nil }
            return AutoscalingCandidate(
                serviceID: try row.decode("id"), tenantID: try row.decode("tenant_id"),
                applicationID: try row.decode("application_id"), name: try row.decode("name"), policy: policy,
                desiredReplicas: try row.decode("desired"), lastScaledAt: try row.decode("last_scaled_at"),
                cpuSamples: try row.decode("samples", as: [Double].self))
        }
    }

    /// The autoscaler's change: the desired count, an event with the reason, a reconcile.
    public func autoscale(_ candidate: AutoscalingCandidate, to replicas: Int, reason: String) throws {
        let count = try connection.execute("""
            UPDATE services SET desired_replicas = $2, last_scaled_at = now(), version = version + 1, updated_at = now()
            WHERE id = $1 AND desired_replicas = $3
            """, [candidate.serviceID, replicas, candidate.desiredReplicas])
        guard count == 1 else { return }
        var events = EventBatch()
        events.add("service.autoscaled", "service", candidate.serviceID, "\(candidate.name): \(reason)",
                   data: ["application_id": candidate.applicationID, "replicas": String(replicas)])
        try JobSQL.enqueue(.reconcile(applicationID: candidate.applicationID, tenantID: candidate.tenantID), on: connection)
        try events.append(tenantID: candidate.tenantID, on: connection)
    }
}

extension TenantTransaction {
    /// `POST /v1/apps/{id}/rollback`: every service that has a previous generation rolls back to
    /// it (with its rollback config and a fresh deadline); the latest deployment reopens to record
    /// the outcome. Throws `conflict` when nothing has a previous generation.
    public func requestRollback(applicationID: String, timeout: TimeInterval, now: Date = Date()) throws -> [String] {
        guard let app = try connection.query(
            "SELECT name, status FROM applications WHERE id = $1 AND tenant_id = $2 FOR UPDATE", [applicationID, tenantID]).first else {
            throw StoreError.notFound(kind: "application", id: applicationID)
        }
        if try app.decode("status", as: String.self) == "deleting" {
            throw StoreError.conflict("application \(applicationID) is being deleted")
        }
        var rolled: [(String, String)] = []
        for row in try connection.query("""
            SELECT id, name, generation, previous_generation, rollout::text AS rollout FROM services
            WHERE application_id = $1 AND kind = 'container' AND status <> 'removing' AND previous_spec IS NOT NULL
            ORDER BY id
            """, [applicationID]) {
            let id: String = try row.decode("id")
            let generation = Int(try row.decode("generation", as: Int64.self))
            guard let previous = try row.decode("previous_generation", as: Int64?.self) else { continue }
            let current = try row.decode("rollout", as: String?.self).flatMap { try? StoredJSON.decode(RolloutState.self, $0) }
            if current?.phase == .rollingBack || current?.phase == .rolledBack { continue }
            let name: String = try row.decode("name")
            var state = current?.toGeneration == generation ? current! : RolloutState(
                serviceID: id, fromGeneration: Int(previous), toGeneration: generation, phase: .rollingBack,
                startedAt: now, deadline: now.addingTimeInterval(timeout))
            state.fromGeneration = Int(previous)
            state.phase = .rollingBack
            state.startedAt = now
            state.deadline = now.addingTimeInterval(timeout)
            state.failedContainers = []
            state.updated = 0
            state.endedAt = nil
            state.reason = "rollback of \(name) to generation \(previous) requested"
            _ = try connection.execute("UPDATE services SET rollout = $2::jsonb WHERE id = $1", [id, try StoredJSON.encode(state)])
            rolled.append((id, state.reason))
        }
        guard !rolled.isEmpty else {
            throw StoreError.conflict("application \(applicationID) has no previous generation to roll back to (or is rolling back already)")
        }
        _ = try connection.execute("""
            UPDATE deployments SET status = 'in_progress', outcome = NULL, finished_at = NULL, reason = 'rollback requested',
                   version = version + 1
            WHERE id = (SELECT id FROM deployments WHERE application_id = $1 AND status <> 'superseded'
                        ORDER BY created_at DESC, id DESC LIMIT 1)
            """, [applicationID])
        var events = EventBatch()
        for (id, reason) in rolled { events.add("rollout.rollback_requested", "service", id, reason, data: ["application_id": applicationID]) }
        try enqueue(.reconcile(applicationID: applicationID, tenantID: tenantID))
        try events.append(tenantID: tenantID, on: connection)
        return rolled.map(\.0)
    }
}
