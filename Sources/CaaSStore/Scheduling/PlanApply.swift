import CaaSModel
import CaaSPlanner
import CaaSPostgres
import Foundation

/// The snapshot a plan was made from is stale: plan again from a fresh one.
public struct SchedulingConflict: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "scheduling conflict: \(reason)" }
}

/// What one applied plan changed.
public struct ApplyOutcome: Sendable, Equatable {
    public var created: [String] = []
    public var removedOrStopped = 0
    public var deletedRows = 0
    public var lost = 0
    public var events = 0
    /// The cluster generation the change was recorded under (nil: nothing to push).
    public var clusterGeneration: Int64?
    public var applicationDeleted = false
    public var deploymentStatus: String?
    /// Milliseconds per step (diagnostics).
    public var timings: [String: Int] = [:]
}

extension SystemTransaction {
    /// Applies `plan` (made from `snapshot` at `now`) in this transaction, after checking that what
    /// the snapshot read has not changed; throws `SchedulingConflict` when it has. With `job`, the
    /// transaction is fenced by the job's lease and completes the job.
    public func apply(_ plan: Plan, to snapshot: SchedulingSnapshot, now: Date, job: ClaimedJob?) throws -> ApplyOutcome {
        if let job { try JobSQL.fence(job, on: connection) }
        var applier = PlanApplier(plan: plan, snap: snapshot, now: now, connection: connection)
        let outcome = try applier.run()
        if let job { try JobSQL.complete(job, on: connection) }
        return outcome
    }
}

struct PlanApplier {
    let plan: Plan
    let snap: SchedulingSnapshot
    let now: Date
    let connection: PostgresConnection
    var events = EventBatch()
    var outcome = ApplyOutcome()

    init(plan: Plan, snap: SchedulingSnapshot, now: Date, connection: PostgresConnection) {
        self.plan = plan
        self.snap = snap
        self.now = now
        self.connection = connection
    }

    var appID: String { snap.applicationID }

    mutating func mark(_ step: String, _ since: inout Date) {
        let now = Date()
        outcome.timings[step] = Int(now.timeIntervalSince(since) * 1000)
        since = now
    }

    mutating func run() throws -> ApplyOutcome {
        var t = Date()
        guard try checkApplication() else { return outcome }
        try checkVersions()
        mark("check", &t)
        let changesContainers = !(plan.placements.isEmpty && plan.stops.isEmpty && plan.removals.isEmpty
            && plan.lost.isEmpty && plan.restarts.isEmpty)
        // Removals written outside a plan (application delete, services dropped by an update)
        // still have to reach the agent.
        let awaitingRemoval = snap.snapshot.containers.contains { $0.desired == .removed }
        if changesContainers {
            try lockClusterAndCheckNodes()
            mark("lock", &t)
            let newIDs = try insertContainers()
            mark("insert", &t)
            try updateContainers(newIDs: newIDs)
            mark("update", &t)
        }
        if changesContainers || awaitingRemoval { try deleteUnconfirmable() }
        try recordUnplaced()
        try persistRollouts()
        try mirrorDeployment()
        mark("deployment", &t)
        if let review = plan.nextReviewAt {
            try JobSQL.enqueue(.reconcile(applicationID: appID, tenantID: snap.tenantID, runAfter: review), on: connection)
        }
        _ = try connection.execute("""
            UPDATE reconcile_requests SET claimed_at = COALESCE(claimed_at, now()), done_at = now()
            WHERE application_id = $1 AND done_at IS NULL
            """, [appID])
        if snap.deleting { try finishDeletion() }
        // Lock order, shared with the API's writers: the tenant row (events) before the cluster row.
        outcome.events = events.entries.count
        try events.append(tenantID: snap.tenantID, on: connection)
        mark("events", &t)
        if changesContainers || awaitingRemoval {
            let generation: Int64 = try connection.query("""
                UPDATE clusters SET desired_generation = desired_generation + 1 WHERE id = $1 RETURNING desired_generation
                """, [snap.clusterID])[0].decode("desired_generation")
            outcome.clusterGeneration = generation
            try JobSQL.enqueue(.push(clusterID: snap.clusterID, tenantID: snap.tenantID,
                                     runAfter: now.addingTimeInterval(NewJob.pushCoalescing)), on: connection)
        }
        mark("generation", &t)
        return outcome
    }

    // MARK: Checks

    /// Locks the application row; false when it is gone (nothing to do).
    func checkApplication() throws -> Bool {
        guard let row = try connection.query(
            "SELECT status, generation FROM applications WHERE id = $1 FOR NO KEY UPDATE", [appID]).first else { return false }
        let deleting = try row.decode("status", as: String.self) == "deleting"
        let generation: Int64 = try row.decode("generation")
        if deleting != snap.deleting || generation != snap.generation {
            throw SchedulingConflict(reason: "application \(appID) changed (generation \(generation))")
        }
        return true
    }

    func checkVersions() throws {
        var services: [String: Int64] = [:]
        for row in try connection.query("SELECT id, version FROM services WHERE application_id = $1 AND kind = 'container'", [appID]) {
            services[try row.decode("id")] = try row.decode("version")
        }
        if services != snap.serviceVersions { throw SchedulingConflict(reason: "services of \(appID) changed") }
        var containers: [String: Int64] = [:]
        for row in try connection.query("SELECT id, version FROM containers WHERE application_id = $1", [appID]) {
            containers[try row.decode("id")] = try row.decode("version")
        }
        if containers != snap.containerVersions { throw SchedulingConflict(reason: "containers of \(appID) changed") }
    }

    /// Serializes applies within the cluster, then checks the nodes that receive containers
    /// against fresh state: still ready, and what other applications hold has not grown into
    /// what this plan needs.
    func lockClusterAndCheckNodes() throws {
        // An advisory lock, not the cluster row: API writers lock that row (after the tenant row),
        // and holding it here while waiting for the tenant row would deadlock with them.
        _ = try connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["caas-cluster-apply:" + snap.clusterID])
        var demand: [String: Reservation] = [:]
        for p in plan.placements {
            let r = Reservation(spec(p.serviceID, p.generation))
            var d = demand[p.nodeID] ?? Reservation(ServiceSpec(name: "", image: ""))
            d.cpus += r.cpus
            d.memoryBytes += r.memoryBytes
            d.hostPorts += r.hostPorts
            demand[p.nodeID] = d
        }
        for r in plan.restarts where demand[r.nodeID] == nil { demand[r.nodeID] = Reservation(ServiceSpec(name: "", image: "")) }
        let targets = Array(demand.keys).sorted()
        guard !targets.isEmpty else { return }
        let notReady = try connection.query(
            "SELECT id, status FROM nodes WHERE id = ANY($1::text[]) AND status <> 'ready'", [targets])
        if let row = notReady.first {
            throw SchedulingConflict(reason: "node \(try row.decode("id", as: String.self)) is \(try row.decode("status", as: String.self))")
        }
        let fresh = try SnapshotLoader.nodeTotals(clusterID: snap.clusterID, nodeIDs: targets, on: connection)
        for node in targets {
            let before = snap.otherUsage[node] ?? NodeUsage()
            // The version checks passed: this application's own share is what the snapshot read.
            let after = (fresh[node] ?? NodeUsage()).subtracting(snap.ownUsage[node] ?? NodeUsage())
            let need = demand[node]!
            // Others grew on this node: still fine if everything fits, counting all of this
            // application's holdings (conservative: some of them are released by this plan).
            let grew = (need.cpus > 0 && after.cpus > before.cpus + 1e-9) || (need.memoryBytes > 0 && after.memoryBytes > before.memoryBytes)
            if grew, let capacity = snap.snapshot.nodes.first(where: { $0.id == node })?.capacity {
                let own = snap.ownUsage[node] ?? NodeUsage()
                let cpus = after.cpus + own.cpus + need.cpus
                let memory = after.memoryBytes + own.memoryBytes + need.memoryBytes
                if cpus > capacity.cpus + 1e-9 || memory > capacity.memoryBytes {
                    throw SchedulingConflict(reason: "node \(node) no longer has room: other containers took its reservations meanwhile")
                }
            }
            let taken = Set(after.hostPorts.subtracting(before.hostPorts).map(\.description))
            if !taken.isDisjoint(with: need.hostPorts) {
                throw SchedulingConflict(reason: "host ports on node \(node) were taken meanwhile")
            }
        }
    }

    func spec(_ serviceID: String, _ generation: Int) -> ServiceSpec {
        guard let service = snap.snapshot.services.first(where: { $0.id == serviceID }) else { return ServiceSpec(name: "", image: "") }
        if generation != service.generation, let previous = service.previous, previous.generation == generation { return previous.spec }
        return service.spec
    }

    // MARK: Containers

    /// New rows for placements and restarts; returns the new id per (service, slot, generation, replaced).
    mutating func insertContainers() throws -> [String: String] {
        var ids: [String] = [], services: [String] = [], nodes: [String] = [], slots: [Int] = [], generations: [Int] = []
        var restartCounts: [Int] = [], notBefores: [Date?] = [], causes: [String] = [], reasons: [String] = []
        var cpus: [Double] = [], memories: [Int64] = [], ports: [String] = []
        var newIDByOld: [String: String] = [:]
        func add(_ service: String, _ node: String, _ slot: Int, _ generation: Int, _ restarts: Int, _ notBefore: Date?,
                 _ cause: String, _ reason: String) -> String {
            let id = Identifier.make(.container)
            let r = Reservation(spec(service, generation))
            ids.append(id); services.append(service); nodes.append(node); slots.append(slot); generations.append(generation)
            restartCounts.append(restarts); notBefores.append(notBefore); causes.append(cause); reasons.append(reason)
            cpus.append(r.cpus); memories.append(r.memoryBytes); ports.append(r.hostPorts.joined(separator: ","))
            return id
        }
        for p in plan.placements {
            let id = add(p.serviceID, p.nodeID, p.slot, p.generation, p.restartCount, p.notBefore, p.cause.rawValue, p.reason)
            if let old = p.replacing { newIDByOld[old] = id }
            events.add("container.placed", "container", id, "\(snap.serviceName(p.serviceID)).\(p.slot) placed: \(p.reason)",
                       data: ["service_id": p.serviceID, "node_id": p.nodeID, "cause": p.cause.rawValue, "application_id": appID])
        }
        for r in plan.restarts {
            let id = add(r.serviceID, r.nodeID, r.slot, r.generation, r.restartCount, r.notBefore, "restart", r.reason)
            newIDByOld[r.containerID] = id
            events.add("container.restart_scheduled", "container", id, r.reason,
                       data: ["service_id": r.serviceID, "node_id": r.nodeID, "replaces": r.containerID,
                              "not_before": RFC3339.format(r.notBefore), "application_id": appID])
        }
        guard !ids.isEmpty else { return newIDByOld }
        _ = try connection.execute("""
            INSERT INTO containers (id, tenant_id, application_id, service_id, node_id, slot, generation, desired_state,
                                    observed_state, restart_count, not_before, cause, reason, status_message,
                                    reserved_cpus, reserved_memory, host_ports)
            SELECT u.id, $1, $2, u.service, u.node, u.slot, u.generation, 'running', 'pending', u.restarts, u.not_before,
                   u.cause, u.reason, u.reason, u.cpus, u.memory, COALESCE(string_to_array(NULLIF(u.ports, ''), ','), '{}')
            FROM unnest($3::text[], $4::text[], $5::text[], $6::int4[], $7::int8[], $8::int4[], $9::timestamptz[],
                        $10::text[], $11::text[], $12::float8[], $13::int8[], $14::text[])
                 AS u(id, service, node, slot, generation, restarts, not_before, cause, reason, cpus, memory, ports)
            """, [snap.tenantID, appID, ids, services, nodes, slots.map { Int32($0) }, generations,
                  restartCounts.map { Int32($0) }, notBefores, causes, reasons, cpus, memories, ports])
        outcome.created = ids
        return newIDByOld
    }

    /// Desired state, lost, fencing: one statement for every touched container.
    mutating func updateContainers(newIDs: [String: String]) throws {
        struct Change { var desired: String?; var lost = false; var replacedBy: String?; var message: String? }
        var changes: [String: Change] = [:]
        for r in plan.removals {
            changes[r.containerID, default: Change()].desired = "removed"
            changes[r.containerID, default: Change()].message = r.reason
            events.add("container.removing", "container", r.containerID, r.reason,
                       data: ["service_id": r.serviceID, "cause": r.cause.rawValue, "application_id": appID])
        }
        for s in plan.stops {
            if changes[s.containerID]?.desired == nil { changes[s.containerID, default: Change()].desired = "stopped" }
            changes[s.containerID, default: Change()].message = s.reason
            events.add("container.stopping", "container", s.containerID, s.reason, data: ["service_id": s.serviceID, "application_id": appID])
        }
        for l in plan.lost {
            changes[l.containerID, default: Change()].lost = true
            outcome.lost += 1
            events.add("container.lost", "container", l.containerID, l.reason,
                       data: ["service_id": l.serviceID, "node_id": l.nodeID, "application_id": appID])
        }
        for r in plan.restarts {
            changes[r.containerID, default: Change()].desired = "removed"
            changes[r.containerID, default: Change()].replacedBy = newIDs[r.containerID]
        }
        for r in plan.replacements {
            guard let new = newIDs[r.old] else { continue }
            // Start-first keeps the old copy counted until the new one is ready; only copies that stop
            // now (stop-first, lost) are fenced.
            if r.order == .stopFirst || r.cause == .lost || changes[r.old]?.desired == "removed" {
                changes[r.old, default: Change()].replacedBy = new
            }
            events.add("container.replaced", "container", r.old, r.reason,
                       data: ["service_id": r.serviceID, "replaced_by": new, "cause": r.cause.rawValue,
                              "order": r.order.rawValue, "application_id": appID])
        }
        guard !changes.isEmpty else { return }
        let ids = changes.keys.sorted()
        outcome.removedOrStopped = ids.filter { changes[$0]!.desired != nil }.count
        let count = try connection.execute("""
            UPDATE containers c SET
                desired_state = COALESCE(u.desired, c.desired_state),
                observed_state = CASE WHEN u.lost AND caas_observed_rank(c.observed_state) < 4 THEN 'lost' ELSE c.observed_state END,
                replaced_by = COALESCE(u.replaced_by, c.replaced_by),
                status_message = COALESCE(u.message, c.status_message),
                version = c.version + 1, updated_at = now()
            FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[]) AS u(id, desired, lost, replaced_by, message)
            WHERE c.id = u.id AND c.application_id = $6
            """, [ids, ids.map { changes[$0]!.desired }, ids.map { changes[$0]!.lost }, ids.map { changes[$0]!.replacedBy },
                  ids.map { changes[$0]!.message }, appID])
        if count != ids.count { throw SchedulingConflict(reason: "containers of \(appID) disappeared meanwhile") }
    }

    /// Removed containers no agent will confirm: never reported (still pending), or lost with
    /// their node. Their rows go now; an agent that still has one removes it, as it is absent
    /// from the desired state.
    mutating func deleteUnconfirmable() throws {
        outcome.deletedRows = try connection.execute("""
            DELETE FROM containers WHERE application_id = $1 AND desired_state = 'removed'
              AND (observed_state IN ('pending', 'lost', 'removed') OR node_id IS NULL)
            """, [appID])
    }

    // MARK: Services, rollouts, deployments

    mutating func recordUnplaced() throws {
        var text: [String: String] = [:]
        for u in plan.unplaced {
            text[u.serviceID] = "\(u.count) unplaced (slots \(u.slots.map(String.init).joined(separator: ", "))): \(u.explanation)"
            events.add("service.unplaced", "service", u.serviceID,
                       "\(snap.serviceName(u.serviceID)): \(u.count) container\(u.count == 1 ? "" : "s") cannot be placed: \(u.explanation)",
                       data: ["application_id": appID, "explanation": u.explanation])
        }
        let ids = snap.snapshot.services.map(\.id)
        guard !ids.isEmpty else { return }
        _ = try connection.execute("""
            UPDATE services s SET unplaced = u.text FROM unnest($1::text[], $2::text[]) AS u(id, text)
            WHERE s.id = u.id AND s.unplaced IS DISTINCT FROM u.text
            """, [ids, ids.map { text[$0] }])
    }

    mutating func persistRollouts() throws {
        guard !plan.rollouts.isEmpty else { return }
        let ids = plan.rollouts.map(\.serviceID)
        let json = try plan.rollouts.map { try StoredJSON.encode($0) }
        _ = try connection.execute("""
            UPDATE services s SET rollout = u.rollout::jsonb FROM unnest($1::text[], $2::text[]) AS u(id, rollout) WHERE s.id = u.id
            """, [ids, json])
        for rollout in plan.rollouts {
            let previous = snap.snapshot.services.first { $0.id == rollout.serviceID }?.rollout
            let type: String
            switch rollout.phase {
            case .inProgress: type = previous?.toGeneration == rollout.toGeneration ? "rollout.progress" : "rollout.started"
            case .paused: type = "rollout.paused"
            case .rollingBack: type = previous?.phase == .rollingBack ? "rollout.progress" : "rollout.rolling_back"
            case .succeeded: type = "rollout.succeeded"
            case .failed: type = "rollout.failed"
            case .rolledBack: type = "rollout.rolled_back"
            }
            events.add(type, "service", rollout.serviceID, rollout.reason,
                       data: ["application_id": appID, "updated": String(rollout.updated), "total": String(rollout.total),
                              "phase": rollout.phase.rawValue, "to_generation": String(rollout.toGeneration)])
        }
    }

    /// The application's open deployment follows its services: progress, outcome, reason; the
    /// application's status and observed generation follow the deployment.
    mutating func mirrorDeployment() throws {
        guard !snap.deleting else { return }
        guard let deployment = try connection.query("""
            SELECT id, status, deadline FROM deployments WHERE application_id = $1 AND status IN ('pending', 'in_progress')
            ORDER BY created_at DESC, id DESC LIMIT 1
            """, [appID]).first else { return }
        let deploymentID: String = try deployment.decode("id")
        let deadline: Date = try deployment.decode("deadline")
        var updated = 0, total = 0
        var active: [RolloutState] = [], ended: [RolloutState] = []
        var rollouts: [String: String] = [:]
        var waiting: [String] = []
        for row in try connection.query("""
            SELECT s.id, s.name, s.mode, s.generation, s.desired_replicas::int8 AS desired, s.rollout::text AS rollout, s.unplaced,
                   (SELECT count(*) FROM containers c WHERE c.service_id = s.id AND c.generation = s.generation
                      AND c.desired_state = 'running' AND c.observed_state = 'running' AND c.replaced_by IS NULL
                      AND c.health <> 'unhealthy')::int8 AS ready
            FROM services s WHERE s.application_id = $1 AND s.kind = 'container' AND s.status <> 'removing'
            ORDER BY s.id
            """, [appID]) {
            let generation: Int64 = try row.decode("generation")
            let ready: Int = try row.decode("ready")
            let desired: Int = try row.decode("desired")
            let global = try row.decode("mode", as: String.self) == "global"
            if let text: String = try row.decode("rollout"), let rollout = try? StoredJSON.decode(RolloutState.self, text),
               rollout.toGeneration == Int(generation) {
                rollouts[rollout.serviceID] = text
                if rollout.phase.isFinal { ended.append(rollout) } else { active.append(rollout) }
                updated += rollout.updated
                total += rollout.total
            } else {
                updated += global ? ready : min(ready, desired)
                total += global ? max(ready, 1) : desired
                if !global && ready < desired {
                    let name: String = try row.decode("name")
                    let unplaced: String? = try row.decode("unplaced")
                    waiting.append("\(name) \(ready)/\(desired) running" + (unplaced.map { " (\($0))" } ?? ""))
                }
            }
        }
        var status = "in_progress"
        var outcome: String?
        var reason: String
        if let first = active.first {
            reason = first.reason
        } else if let failed = ended.first(where: { $0.phase == .failed }) {
            (status, outcome, reason) = ("failed", "failed", failed.reason)
        } else if let back = ended.first(where: { $0.phase == .rolledBack }) {
            (status, outcome, reason) = ("rolled_back", "rolled_back", back.reason)
        } else if waiting.isEmpty {
            (status, outcome, reason) = ("succeeded", "succeeded", "\(snap.applicationName) deployed (\(updated)/\(total))")
        } else {
            reason = "waiting: " + waiting.joined(separator: "; ")
        }
        if status == "in_progress" && now >= deadline {
            (status, outcome, reason) = ("failed", "failed", "deadline exceeded: \(reason)")
        }
        let json = "{" + rollouts.keys.sorted().map { "\"\($0)\":\(rollouts[$0]!)" }.joined(separator: ",") + "}"
        _ = try connection.execute("""
            UPDATE deployments SET status = $2, outcome = $3, reason = $4, progress_updated = $5, progress_total = $6,
                   rollouts = $7::jsonb, finished_at = CASE WHEN $3::text IS NULL THEN NULL ELSE now() END, version = version + 1
            WHERE id = $1
            """, [deploymentID, status, outcome, reason, Int32(min(updated, total)), Int32(total), json])
        outcomeStatus(status)
        if let outcome {
            events.add("deployment.\(outcome)", "deployment", deploymentID, reason, data: ["application_id": appID])
            let appStatus = outcome == "failed" ? "degraded" : "running"
            _ = try connection.execute("""
                UPDATE applications SET status = $2, status_reason = $3,
                       observed_generation = CASE WHEN $4 THEN generation ELSE observed_generation END, updated_at = now()
                WHERE id = $1
                """, [appID, appStatus, reason, outcome == "succeeded"])
        } else {
            _ = try connection.execute(
                "UPDATE applications SET status = 'deploying', status_reason = $2 WHERE id = $1 AND status <> 'deleting'",
                [appID, reason])
        }
    }

    mutating func outcomeStatus(_ status: String) { outcome.deploymentStatus = status }

    mutating func finishDeletion() throws {
        let remaining: Int = try connection.query(
            "SELECT count(*)::int8 AS n FROM containers WHERE application_id = $1", [appID])[0].decode("n")
        guard remaining == 0 else { return }
        _ = try connection.execute("DELETE FROM applications WHERE id = $1", [appID])
        events.add("app.deleted", "application", appID, "application \(snap.applicationName) deleted: every container is removed")
        outcome.applicationDeleted = true
    }
}
