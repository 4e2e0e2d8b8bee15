import CaaSModel
import CaaSPostgres
import Foundation

/// What one agent report changed.
public struct ReportOutcome: Sendable, Equatable {
    /// Containers whose observed state or health moved.
    public var transitions = 0
    /// Rows deleted because their agent confirmed the removal.
    public var deleted = 0
    /// Observations for containers this cluster does not have (ignored).
    public var unknown = 0
    /// Applications queued for reconciliation.
    public var reconciled: [String] = []
}

/// A node whose heartbeats resumed or stopped.
public struct NodeChange: Sendable, Equatable {
    public var nodeID: String
    public var name: String
    public var tenantID: String
    public var clusterID: String
}

extension SystemTransaction {
    /// Applies an agent's report for `clusterID` (the agent was authenticated as that cluster's):
    /// observed state only moves forward — except that a container still wanted takes what its
    /// agent observes later when it was lost with its node (it ran on through a partition) or
    /// when the agent restarted it in place while the control plane was out of reach —
    /// health, exit codes, engine ids and stats are recorded,
    /// removals the agent confirms delete their rows, and every application whose containers moved
    /// is queued for reconciliation, all in this transaction. A container's address and published
    /// ports are replaced only by an observation that states them and is not older than the row's
    /// last one (`observed_at`, which does not go back either): a removal or failure (which say
    /// nothing of them) or a stale report keeps them.
    public func applyReport(_ report: AgentReport, clusterID: String) throws -> ReportOutcome {
        var outcome = ReportOutcome()
        guard try connection.query("SELECT 1 FROM clusters WHERE id = $1", [clusterID]).first != nil else {
            throw StoreError.notFound(kind: "cluster", id: clusterID)
        }
        let c = report.containers
        var byTenant: [String: EventBatch] = [:]
        var apps = Set<String>()
        var tenantOfApp: [String: String] = [:]
        var confirmedRemoved: [String] = []
        if !c.isEmpty {
            let rows = try connection.query("""
                WITH u AS (
                    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::timestamptz[],
                                         $8::timestamptz[], $9::text[], $10::float8[], $11::int8[], $12::text[], $13::timestamptz[],
                                         $14::text[], $15::text[])
                        AS u(id, node, state, exit, health, started, finished, engine, cpu, mem, msg, observed, address, ports)
                ),
                old AS (
                    SELECT k.id, k.observed_state, k.health,
                           -- Still wanted and seen again by its agent, later than the last observation:
                           -- lost with its node (which is back), or restarted in place by the agent while
                           -- the control plane was out of reach (as migration 0013's trigger allows).
                           (k.desired_state <> 'removed' AND k.replaced_by IS NULL
                            AND (k.observed_at IS NULL OR u.observed > k.observed_at)
                            AND ((k.observed_state = 'lost' AND u.state IN ('starting', 'running', 'exited', 'failed'))
                                 OR (k.observed_state IN ('exited', 'failed') AND u.state IN ('starting', 'running')
                                     AND k.desired_state = 'running'))) AS found
                    FROM containers k JOIN u ON u.id = k.id
                    JOIN nodes n ON n.id = k.node_id WHERE n.cluster_id = $1 AND k.node_id = u.node
                )
                UPDATE containers k SET
                    observed_state = CASE WHEN old.found OR caas_observed_rank(u.state) > caas_observed_rank(k.observed_state)
                                          THEN u.state ELSE k.observed_state END,
                    health = CASE WHEN old.found THEN u.health
                                  WHEN k.observed_state IN ('lost', 'removed') OR u.observed < k.observed_at THEN k.health
                                  ELSE u.health END,
                    healthy_since = CASE WHEN u.observed < k.observed_at THEN k.healthy_since
                                         WHEN u.health = 'healthy' THEN COALESCE(k.healthy_since, u.observed) ELSE NULL END,
                    exit_code = COALESCE(u.exit, k.exit_code),
                    started_at = COALESCE(u.started, k.started_at),
                    finished_at = COALESCE(u.finished, k.finished_at),
                    last_exit_at = CASE WHEN u.state IN ('exited', 'failed') AND (old.found OR k.observed_state NOT IN ('exited', 'failed', 'lost', 'removed'))
                                        THEN COALESCE(u.finished, u.observed) ELSE k.last_exit_at END,
                    engine_container_id = COALESCE(u.engine, k.engine_container_id),
                    cpu_percent = COALESCE(u.cpu, k.cpu_percent),
                    memory_bytes = COALESCE(u.mem, k.memory_bytes),
                    stats_at = CASE WHEN u.cpu IS NULL THEN k.stats_at ELSE u.observed END,
                    status_message = COALESCE(u.msg, k.status_message),
                    address = CASE WHEN u.address IS NOT NULL AND (k.observed_at IS NULL OR u.observed >= k.observed_at)
                                   THEN u.address ELSE k.address END,
                    ports = CASE WHEN u.ports IS NOT NULL AND (k.observed_at IS NULL OR u.observed >= k.observed_at)
                                 THEN u.ports::jsonb ELSE k.ports END,
                    observed_at = GREATEST(k.observed_at, u.observed),
                    version = k.version + CASE WHEN old.found OR caas_observed_rank(u.state) > caas_observed_rank(k.observed_state)
                                                 OR (COALESCE(u.observed >= k.observed_at, true)
                                                     AND ((u.health <> k.health AND k.observed_state NOT IN ('lost', 'removed'))
                                                          OR (u.address IS NOT NULL AND u.address IS DISTINCT FROM k.address)
                                                          OR (u.ports IS NOT NULL AND u.ports::jsonb IS DISTINCT FROM k.ports)))
                                            THEN 1 ELSE 0 END,
                    updated_at = now()
                FROM u, old
                WHERE k.id = u.id AND old.id = k.id
                RETURNING k.id, k.tenant_id, k.application_id, k.service_id, k.desired_state, k.node_id, k.exit_code::int8 AS exit_code,
                          old.observed_state AS old_state, k.observed_state AS new_state, old.health AS old_health, k.health AS new_health
                """, [clusterID, c.map(\.containerId), c.map(\.nodeId), c.map(\.state.rawValue), c.map(\.exitCode),
                      c.map(\.health.rawValue), c.map(\.startedAt), c.map(\.finishedAt), c.map(\.engineContainerId),
                      c.map(\.cpuPercent), c.map(\.memoryBytes), c.map(\.message), c.map(\.observedAt), c.map(\.address),
                      try c.map { try $0.ports.map(Self.portsJSON) }])
            outcome.unknown = c.count - rows.count
            for row in rows {
                let id: String = try row.decode("id")
                let tenant: String = try row.decode("tenant_id")
                let app: String = try row.decode("application_id")
                let old: String = try row.decode("old_state"), new: String = try row.decode("new_state")
                let oldHealth: String = try row.decode("old_health"), newHealth: String = try row.decode("new_health")
                tenantOfApp[app] = tenant
                let desired: String = try row.decode("desired_state")
                if new == "removed" && desired == "removed" {
                    confirmedRemoved.append(id)
                }
                guard old != new || oldHealth != newHealth else { continue }
                outcome.transitions += 1
                apps.insert(app)
                let node: String = try row.decode("node_id")
                if old != new {
                    let exit = try row.decode("exit_code", as: Int?.self)
                    let detail = (new == "exited" || new == "failed") ? exit.map { " (exit code \($0))" } ?? "" : ""
                    byTenant[tenant, default: EventBatch()].add(
                        "container.\(new)", "container", id, "container \(id) \(new) on node \(node)\(detail)",
                        data: ["application_id": app, "node_id": node, "from": old])
                } else {
                    byTenant[tenant, default: EventBatch()].add(
                        "container.health", "container", id, "container \(id) is \(newHealth) (was \(oldHealth))",
                        data: ["application_id": app, "node_id": node, "health": newHealth])
                }
            }
        }
        if !confirmedRemoved.isEmpty {
            outcome.deleted += try connection.execute("DELETE FROM containers WHERE id = ANY($1::text[])", [confirmedRemoved])
        }
        if report.isFull {
            // A container missing from a full report is gone: rows only waiting for that confirmation go.
            let rows = try connection.query("""
                DELETE FROM containers k USING nodes n
                WHERE n.id = k.node_id AND n.cluster_id = $1 AND k.desired_state = 'removed' AND NOT (k.id = ANY($2::text[]))
                RETURNING k.application_id, k.tenant_id
                """, [clusterID, c.map(\.containerId)])
            outcome.deleted += rows.count
            for row in rows {
                let app: String = try row.decode("application_id")
                apps.insert(app)
                tenantOfApp[app] = try row.decode("tenant_id")
            }
        }
        if !confirmedRemoved.isEmpty {
            for (app, _) in tenantOfApp { apps.insert(app) }
        }
        let jobs = apps.sorted().compactMap { app in tenantOfApp[app].map { NewJob.reconcile(applicationID: app, tenantID: $0) } }
        try JobSQL.enqueue(jobs, on: connection)
        outcome.reconciled = apps.sorted()
        for tenant in byTenant.keys.sorted() { try byTenant[tenant]!.append(tenantID: tenant, on: connection) }
        // The cluster row last (lock order: tenant row, then cluster row, as the API's writers).
        _ = try connection.execute("""
            UPDATE clusters SET agent_status = 'connected', agent_seen_at = now(),
                   applied_generation = GREATEST(applied_generation, $2), last_report_sequence = GREATEST(last_report_sequence, $3)
            WHERE id = $1
            """, [clusterID, report.appliedGeneration, report.sequence])
        return outcome
    }

    /// Published ports as the `containers.ports` column keeps them (what `ContainerRecord` reads).
    static func portsJSON(_ ports: [DesiredPort]) throws -> String {
        try ResourceJSON.encode(ports.map { ContainerPort(containerPort: $0.containerPort, hostPort: $0.hostPort, hostAddress: $0.hostAddress,
                                                          protocol: $0.protocol.rawValue) })
    }

    /// Applies a heartbeat: nodes whose engine answers are alive now; a node that was `down`
    /// returns to its earlier status, and every application of the cluster is reconciled (stale
    /// copies on it are stopped, unplaced containers retried) and the cluster pushed again.
    public func applyHeartbeat(_ heartbeat: Heartbeat, clusterID: String) throws -> [NodeChange] {
        guard let cluster = try connection.query("SELECT tenant_id FROM clusters WHERE id = $1", [clusterID]).first else {
            throw StoreError.notFound(kind: "cluster", id: clusterID)
        }
        let tenantID: String = try cluster.decode("tenant_id")
        let n = heartbeat.nodes
        // The cluster row last (lock order: tenant row, then cluster row, as the API's writers).
        func touchCluster() throws {
            _ = try connection.execute("""
                UPDATE clusters SET agent_status = 'connected', agent_seen_at = now(),
                       applied_generation = GREATEST(applied_generation, $2)
                WHERE id = $1
                """, [clusterID, heartbeat.appliedGeneration])
        }
        guard !n.isEmpty else {
            try touchCluster()
            return []
        }
        let rows = try connection.query("""
            WITH u AS (SELECT * FROM unnest($2::text[], $3::bool[], $4::text[], $5::text[]) AS u(id, reachable, error, engine_version)),
            old AS (SELECT id, status FROM nodes WHERE cluster_id = $1)
            UPDATE nodes x SET
                last_heartbeat_at = CASE WHEN u.reachable THEN now() ELSE x.last_heartbeat_at END,
                engine_reachable = u.reachable, engine_error = u.error,
                engine_unreachable_since = CASE WHEN u.reachable THEN NULL ELSE COALESCE(x.engine_unreachable_since, now()) END,
                engine_version = COALESCE(u.engine_version, x.engine_version),
                status = CASE WHEN x.status = 'down' AND u.reachable THEN COALESCE(x.status_before_down, 'ready') ELSE x.status END,
                status_before_down = CASE WHEN x.status = 'down' AND u.reachable THEN NULL ELSE x.status_before_down END,
                status_reason = CASE WHEN x.status = 'down' AND u.reachable THEN 'heartbeats resumed' ELSE x.status_reason END,
                version = x.version + CASE WHEN x.status = 'down' AND u.reachable THEN 1 ELSE 0 END
            FROM u, old
            WHERE x.id = u.id AND old.id = x.id AND x.cluster_id = $1
            RETURNING x.id, x.name, x.status, old.status = 'down' AND u.reachable AS returned
            """, [clusterID, n.map(\.nodeId), n.map(\.engineReachable), n.map(\.error), n.map(\.engineVersion)])
        var changes: [NodeChange] = []
        var events = EventBatch()
        for row in rows where try row.decode("returned", as: Bool.self) {
            let change = NodeChange(nodeID: try row.decode("id"), name: try row.decode("name"), tenantID: tenantID, clusterID: clusterID)
            changes.append(change)
            events.add("node.ready", "node", change.nodeID, "node \(change.name) is back (heartbeats resumed); status \(try row.decode("status", as: String.self))",
                       data: ["cluster_id": clusterID])
        }
        if !changes.isEmpty {
            // (The node trigger of migration 0003 queued the cluster's applications.) Push again:
            // copies on the returning node that are no longer wanted must go.
            try JobSQL.enqueue(.push(clusterID: clusterID, tenantID: tenantID), on: connection)
            try events.append(tenantID: tenantID, on: connection)
        }
        try touchCluster()
        return changes
    }

    /// Marks `down` every node without a heartbeat for `seconds`, or whose agent has reported its
    /// engine unreachable for `unreachableSeconds`, with an event, and queues every application of
    /// their clusters. Both count from the later of the observation and `watchingSince` — the
    /// moment the caller started watching, so a control plane back from downtime gives agents
    /// time to report. A node never heard from counts from its creation.
    public func markSilentNodesDown(after seconds: Double, unreachableAfter unreachableSeconds: Double? = nil,
                                    watchingSince: Date = .distantPast) throws -> [NodeChange] {
        let since = max(watchingSince, Date(timeIntervalSince1970: 0))
        let rows = try connection.query("""
            WITH due AS (
                SELECT id,
                       GREATEST(COALESCE(last_heartbeat_at, created_at), $3::timestamptz) < now() - make_interval(secs => $2) AS silent
                FROM nodes
                WHERE status <> 'down'
                  AND (GREATEST(COALESCE(last_heartbeat_at, created_at), $3::timestamptz) < now() - make_interval(secs => $2)
                       OR ($4::float8 IS NOT NULL AND engine_unreachable_since IS NOT NULL
                           AND GREATEST(engine_unreachable_since, $3::timestamptz) < now() - make_interval(secs => $4::float8)))
                FOR UPDATE
            )
            UPDATE nodes x SET status = 'down', status_before_down = x.status, version = x.version + 1, updated_at = now(),
                   status_reason = CASE WHEN due.silent THEN 'no heartbeat for ' || $1::text || 's'
                                        ELSE 'engine unreachable: ' || COALESCE(x.engine_error, 'no answer') END
            FROM due WHERE x.id = due.id
            RETURNING x.id, x.name, x.tenant_id, x.cluster_id, x.status_reason
            """, [String(format: "%g", seconds), seconds, since, unreachableSeconds])
        let changes = try rows.map { row in
            NodeChange(nodeID: try row.decode("id"), name: try row.decode("name"), tenantID: try row.decode("tenant_id"),
                       clusterID: try row.decode("cluster_id"))
        }
        let reasons: [String: String] = Dictionary(uniqueKeysWithValues: try rows.map { (try $0.decode("id", as: String.self), try $0.decode("status_reason", as: String.self)) })
        guard !changes.isEmpty else { return [] }
        var byTenant: [String: EventBatch] = [:]
        for change in changes {
            byTenant[change.tenantID, default: EventBatch()].add(
                "node.down", "node", change.nodeID,
                "node \(change.name) is down: \(reasons[change.nodeID] ?? "no heartbeat"); its containers are lost",
                data: ["cluster_id": change.clusterID])
        }
        // (The node trigger of migration 0003 queued every application of their clusters.)
        for tenant in byTenant.keys.sorted() { try byTenant[tenant]!.append(tenantID: tenant, on: connection) }
        return changes
    }

    /// Queues a reconcile of every application in the clusters (node changes).
    public func reconcileClusters(_ clusterIDs: [String]) throws {
        let jobs = try connection.query("""
            SELECT id, tenant_id FROM applications WHERE cluster_id = ANY($1::text[]) ORDER BY id
            """, [clusterIDs]).map { NewJob.reconcile(applicationID: try $0.decode("id"), tenantID: try $0.decode("tenant_id")) }
        try JobSQL.enqueue(jobs, on: connection)
    }

    /// Applications with an open deployment past its deadline (the ticker queues them).
    /// Queues a reconcile of applications with slots held back by the containers quota
    /// (`ContainerQuotaGate`) whose tenant has room again: containers removed elsewhere, or a
    /// raised quota. Returns how many were queued.
    public func reconcileQuotaHeldSlots(defaultContainersQuota: Int) throws -> Int {
        let jobs = try connection.query("""
            SELECT DISTINCT a.id, a.tenant_id FROM services s
            JOIN applications a ON a.id = s.application_id JOIN tenants t ON t.id = a.tenant_id
            WHERE s.unplaced LIKE '%quota: containers %'
              AND (SELECT count(*) FROM containers c WHERE c.tenant_id = a.tenant_id AND c.desired_state <> 'removed')
                  < COALESCE((t.quotas ->> 'containers')::int8, $1)
            """, [defaultContainersQuota]).map { NewJob.reconcile(applicationID: try $0.decode("id"), tenantID: try $0.decode("tenant_id")) }
        try JobSQL.enqueue(jobs, on: connection)
        return jobs.count
    }

    public func reconcileOverdueDeployments() throws -> Int {
        let jobs = try connection.query("""
            SELECT DISTINCT a.id, a.tenant_id FROM deployments d JOIN applications a ON a.id = d.application_id
            WHERE d.status IN ('pending', 'in_progress') AND d.deadline < now()
            """).map { NewJob.reconcile(applicationID: try $0.decode("id"), tenantID: try $0.decode("tenant_id")) }
        try JobSQL.enqueue(jobs, on: connection)
        return jobs.count
    }
}

extension TenantTransaction {
    /// Queues a reconcile of every application in the cluster: node routes call it when a node is
    /// added, drained, paused or activated, in their own transaction.
    public func reconcileCluster(_ clusterID: String) throws {
        let jobs = try connection.query("SELECT id FROM applications WHERE cluster_id = $1 AND tenant_id = $2 ORDER BY id",
                                        [clusterID, tenantID])
            .map { NewJob.reconcile(applicationID: try $0.decode("id"), tenantID: tenantID) }
        try JobSQL.enqueue(jobs, on: connection)
    }
}
