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

/// One application's plan with the snapshot it was made from.
public struct PlannedApplication: Sendable {
    public var snapshot: SchedulingSnapshot
    public var plan: Plan

    public init(snapshot: SchedulingSnapshot, plan: Plan) {
        self.snapshot = snapshot
        self.plan = plan
    }

    var appID: String { snapshot.applicationID }

    var changesContainers: Bool {
        !(plan.placements.isEmpty && plan.stops.isEmpty && plan.removals.isEmpty && plan.lost.isEmpty && plan.restarts.isEmpty)
    }

    /// Removals written outside a plan (application delete, services dropped by an update) still
    /// have to reach the agent.
    var awaitsRemoval: Bool { snapshot.snapshot.containers.contains { $0.desired == .removed } }

    func spec(_ serviceID: String, _ generation: Int) -> ServiceSpec {
        snapshot.snapshot.spec(of: serviceID, generation: generation) ?? ServiceSpec(name: "", image: "")
    }
}

/// What one applied batch of plans changed.
public struct ApplyOutcome: Sendable, Equatable {
    public var created: [String] = []
    public var removedOrStopped = 0
    public var deletedRows = 0
    public var lost = 0
    public var events = 0
    /// The cluster generation the change was recorded under (nil: nothing to push).
    public var clusterGeneration: Int64?
    /// Milliseconds per step (diagnostics).
    public var timings: [String: Int] = [:]
}

extension SystemTransaction {
    /// Applies the plans of applications of one cluster (made at `now`) together, as one change: one
    /// cluster lock, one insert and one update of container rows, one run of events, one new
    /// cluster generation and push. The snapshots come from one read
    /// (`schedulingSnapshots(applicationIDs:)`) and the plans from `Planner.planInSequence`.
    /// What the snapshots read is checked first: any application's stale snapshot throws
    /// `SchedulingConflict` and nothing is applied. The transaction is fenced by every job's
    /// lease and completes them all.
    public func apply(_ batch: [PlannedApplication], now: Date, jobs: [ClaimedJob], quotas: QuotaDefaults) throws -> ApplyOutcome {
        guard let first = batch.first else { return ApplyOutcome() }
        guard batch.allSatisfy({ $0.snapshot.clusterID == first.snapshot.clusterID && $0.snapshot.tenantID == first.snapshot.tenantID }),
              Set(batch.map(\.appID)).count == batch.count else {
            throw SchedulingConflict(reason: "a batch must hold distinct applications of one cluster")
        }
        try JobSQL.fence(jobs, on: connection)
        var applier = PlanApplier(batch: batch, now: now, quotas: quotas, connection: connection)
        let outcome = try applier.run()
        try JobSQL.complete(jobs, on: connection)
        return outcome
    }
}

struct PlanApplier {
    /// In application id order: rows are locked in one order by every batch.
    let batch: [PlannedApplication]
    let clusterID: String
    let tenantID: String
    let now: Date
    let quotas: QuotaDefaults
    let connection: PostgresConnection
    var events = EventBatch()
    var outcome = ApplyOutcome()

    init(batch: [PlannedApplication], now: Date, quotas: QuotaDefaults, connection: PostgresConnection) {
        self.batch = batch.sorted { $0.appID < $1.appID }
        clusterID = batch[0].snapshot.clusterID
        tenantID = batch[0].snapshot.tenantID
        self.now = now
        self.quotas = quotas
        self.connection = connection
    }

    mutating func mark(_ step: String, _ since: inout Date) {
        let now = Date()
        outcome.timings[step] = Int(now.timeIntervalSince(since) * 1000)
        since = now
    }

    mutating func run() throws -> ApplyOutcome {
        var t = Date()
        // Applications deleted meanwhile have nothing left to do.
        var live = try batch.filter { try checkApplication($0) }
        try checkVersions(live)
        live = try admitWithinQuota(live)
        mark("check", &t)
        let changing = live.filter(\.changesContainers)
        if !changing.isEmpty {
            try lockClusterAndCheckNodes(changing)
            mark("lock", &t)
            let newIDs = try insertContainers(changing)
            mark("insert", &t)
            try updateContainers(changing, newIDs: newIDs)
            mark("update", &t)
        }
        let touched = live.filter { $0.changesContainers || $0.awaitsRemoval }
        try deleteUnconfirmable(touched.map(\.appID))
        for item in live {
            try recordUnplaced(item)
            try persistRollouts(item)
            try mirrorDeployment(item)
        }
        mark("deployment", &t)
        try JobSQL.enqueue(live.compactMap { item in
            item.plan.nextReviewAt.map { NewJob.reconcile(applicationID: item.appID, tenantID: tenantID, runAfter: $0) }
        }, on: connection)
        // An application deleted with its volumes needs one more push, read now that it is gone.
        var removesVolumes = false
        for item in live where item.snapshot.deleting {
            if try finishDeletion(item) { removesVolumes = try hasVolumeRemoval(item.appID) || removesVolumes }
        }
        // Lock order, shared with the API's writers: the tenant row (events) before the cluster row.
        outcome.events = events.entries.count
        try events.append(tenantID: tenantID, on: connection)
        mark("events", &t)
        if !touched.isEmpty || removesVolumes {
            let generation: Int64 = try connection.query("""
                UPDATE clusters SET desired_generation = desired_generation + 1 WHERE id = $1 RETURNING desired_generation
                """, [clusterID])[0].decode("desired_generation")
            outcome.clusterGeneration = generation
            try JobSQL.enqueue(.push(clusterID: clusterID, tenantID: tenantID,
                                     runAfter: now.addingTimeInterval(NewJob.pushCoalescing)), on: connection)
        }
        mark("generation", &t)
        return outcome
    }

    // MARK: Checks

    /// The containers quota where containers are born: new slots beyond the tenant's room stay
    /// unplaced (`ContainerQuotaGate`). The tenant row is locked first, as the API's writers lock
    /// it (and as the events below would anyway), so the count cannot change until commit.
    func admitWithinQuota(_ items: [PlannedApplication]) throws -> [PlannedApplication] {
        guard items.contains(where: { $0.plan.placements.contains(where: ContainerQuotaGate.isNew) }) else { return items }
        guard let row = try connection.query(
            "SELECT (quotas ->> 'containers')::int8 AS override FROM tenants WHERE id = $1 FOR UPDATE", [tenantID]).first else {
            throw StoreError.notFound(kind: "tenant", id: tenantID)
        }
        let limit = try row.decode("override", as: Int?.self) ?? quotas.limits[.containers] ?? 0
        let used = try connection.query(QuotaKind.containers.countSQL, [tenantID])[0].decode("n", as: Int.self)
        let plans = ContainerQuotaGate.admit(items.map(\.plan), used: used, limit: limit)
        return zip(items, plans).map { PlannedApplication(snapshot: $0.snapshot, plan: $1) }
    }

    /// Locks the application row; false when it is gone (nothing to do).
    func checkApplication(_ item: PlannedApplication) throws -> Bool {
        guard let row = try connection.query(
            "SELECT status, generation FROM applications WHERE id = $1 FOR NO KEY UPDATE", [item.appID]).first else { return false }
        let deleting = try row.decode("status", as: String.self) == "deleting"
        let generation: Int64 = try row.decode("generation")
        if deleting != item.snapshot.deleting || generation != item.snapshot.generation {
            throw SchedulingConflict(reason: "application \(item.appID) changed (generation \(generation))")
        }
        return true
    }

    /// The services and containers of every application are the versions their snapshot read.
    func checkVersions(_ items: [PlannedApplication]) throws {
        guard !items.isEmpty else { return }
        let ids = items.map(\.appID)
        var services: [String: [String: Int64]] = [:]
        for row in try connection.query(
            "SELECT id, application_id, version FROM services WHERE application_id = ANY($1::text[]) AND kind = 'container'", [ids]) {
            services[try row.decode("application_id"), default: [:]][try row.decode("id")] = try row.decode("version")
        }
        var containers: [String: [String: Int64]] = [:]
        for row in try connection.query("SELECT id, application_id, version FROM containers WHERE application_id = ANY($1::text[])", [ids]) {
            containers[try row.decode("application_id"), default: [:]][try row.decode("id")] = try row.decode("version")
        }
        for item in items {
            if services[item.appID] ?? [:] != item.snapshot.serviceVersions { throw SchedulingConflict(reason: "services of \(item.appID) changed") }
            if containers[item.appID] ?? [:] != item.snapshot.containerVersions {
                throw SchedulingConflict(reason: "containers of \(item.appID) changed")
            }
        }
    }

    /// Serializes applies within the cluster, then checks the nodes that receive containers
    /// against fresh state: still ready, and what others hold has not grown into what these
    /// plans need.
    func lockClusterAndCheckNodes(_ items: [PlannedApplication]) throws {
        // An advisory lock, not the cluster row: API writers lock that row (after the tenant row),
        // and holding it here while waiting for the tenant row would deadlock with them.
        _ = try connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["caas-cluster-apply:" + clusterID])
        var demand: [String: Reservation] = [:]
        for item in items {
            for p in item.plan.placements {
                let r = Reservation(item.spec(p.serviceID, p.generation))
                demand[p.nodeID, default: Reservation()].add(r)
            }
            for r in item.plan.restarts where demand[r.nodeID] == nil { demand[r.nodeID] = Reservation() }
        }
        let targets = Array(demand.keys).sorted()
        guard !targets.isEmpty else { return }
        let notReady = try connection.query(
            "SELECT id, status FROM nodes WHERE id = ANY($1::text[]) AND status <> 'ready'", [targets])
        if let row = notReady.first {
            throw SchedulingConflict(reason: "node \(try row.decode("id", as: String.self)) is \(try row.decode("status", as: String.self))")
        }
        // The version checks passed: the batch's own holdings are what the snapshots read, so any
        // growth since the read is someone else's.
        let read = items[0].snapshot.nodeTotals
        let fresh = try SnapshotLoader.nodeTotals(clusterID: clusterID, nodeIDs: targets, on: connection)
        var capacity: [String: NodeCapacity] = [:]
        for node in items[0].snapshot.snapshot.nodes { capacity[node.id] = node.capacity }
        for node in targets {
            let before = read[node] ?? NodeUsage()
            let after = fresh[node] ?? NodeUsage()
            let need = demand[node]!
            // Others grew on this node: still fine if everything fits, counting all that the
            // batch's applications hold (conservative: some of it is released by these plans).
            let grew = (need.cpus > 0 && after.cpus > before.cpus + 1e-9) || (need.memoryBytes > 0 && after.memoryBytes > before.memoryBytes)
            if grew, let capacity = capacity[node] {
                if after.cpus + need.cpus > capacity.cpus + 1e-9 || after.memoryBytes + need.memoryBytes > capacity.memoryBytes {
                    throw SchedulingConflict(reason: "node \(node) no longer has room: other containers took its reservations meanwhile")
                }
            }
            let taken = Set(after.hostPorts.subtracting(before.hostPorts).map(\.description))
            if !taken.isDisjoint(with: need.hostPorts) {
                throw SchedulingConflict(reason: "host ports on node \(node) were taken meanwhile")
            }
        }
    }

    // MARK: Containers

    /// New rows for placements and restarts, in one statement; returns the new id per replaced container.
    mutating func insertContainers(_ items: [PlannedApplication]) throws -> [String: String] {
        var ids: [String] = [], apps: [String] = [], services: [String] = [], nodes: [String] = [], slots: [Int] = [], generations: [Int] = []
        var restartCounts: [Int] = [], notBefores: [Date?] = [], causes: [String] = [], reasons: [String] = []
        var cpus: [Double] = [], memories: [Int64] = [], ports: [String] = []
        var wantsAddress: [Bool] = []
        var newIDByOld: [String: String] = [:]
        func add(_ item: PlannedApplication, _ service: String, _ node: String, _ slot: Int, _ generation: Int, _ restarts: Int,
                 _ notBefore: Date?, _ cause: String, _ reason: String) -> String {
            let id = Identifier.make(.container)
            let r = Reservation(item.spec(service, generation))
            ids.append(id); apps.append(item.appID); services.append(service); nodes.append(node); slots.append(slot); generations.append(generation)
            restartCounts.append(restarts); notBefores.append(notBefore); causes.append(cause); reasons.append(reason)
            cpus.append(r.cpus); memories.append(r.memoryBytes); ports.append(r.hostPorts.joined(separator: ","))
            wantsAddress.append(item.spec(service, generation).networkMode == nil)
            return id
        }
        for item in items {
            for p in item.plan.placements {
                let id = add(item, p.serviceID, p.nodeID, p.slot, p.generation, p.restartCount, p.notBefore, p.cause.rawValue, p.reason)
                if let old = p.replacing { newIDByOld[old] = id }
                events.add("container.placed", "container", id, "\(item.snapshot.serviceName(p.serviceID)).\(p.slot) placed: \(p.reason)",
                           data: ["service_id": p.serviceID, "node_id": p.nodeID, "cause": p.cause.rawValue, "application_id": item.appID])
            }
            for r in item.plan.restarts {
                let id = add(item, r.serviceID, r.nodeID, r.slot, r.generation, r.restartCount, r.notBefore, "restart", r.reason)
                newIDByOld[r.containerID] = id
                events.add("container.restart_scheduled", "container", id, r.reason,
                           data: ["service_id": r.serviceID, "node_id": r.nodeID, "replaces": r.containerID,
                                  "not_before": RFC3339.format(r.notBefore), "application_id": item.appID])
            }
        }
        guard !ids.isEmpty else { return newIDByOld }
        let addresses = try containerAddresses(nodes: nodes, wanted: wantsAddress)
        _ = try connection.execute("""
            INSERT INTO containers (id, tenant_id, application_id, service_id, node_id, slot, generation, desired_state,
                                    observed_state, restart_count, not_before, cause, reason, status_message,
                                    reserved_cpus, reserved_memory, host_ports, ip_address)
            SELECT u.id, $1, u.app, u.service, u.node, u.slot, u.generation, 'running', 'pending', u.restarts, u.not_before,
                   u.cause, u.reason, u.reason, u.cpus, u.memory, COALESCE(string_to_array(NULLIF(u.ports, ''), ','), '{}'),
                   NULLIF(u.ip, '')::inet
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::int8[], $8::int4[], $9::timestamptz[],
                        $10::text[], $11::text[], $12::float8[], $13::int8[], $14::text[], $15::text[])
                 AS u(id, app, service, node, slot, generation, restarts, not_before, cause, reason, cpus, memory, ports, ip)
            """, [tenantID, ids, apps, services, nodes, slots.map { Int32($0) }, generations,
                  restartCounts.map { Int32($0) }, notBefores, causes, reasons, cpus, memories, ports, addresses])
        outcome.created = ids
        return newIDByOld
    }

    /// Each new container's address on its node's caas network ("" for none): only in clusters
    /// with `node_subnets` networking and for containers that do not choose a network mode of
    /// their own. Free addresses of the node's subnet, none held by an existing container row
    /// (`ContainerAddressAllocator`); runs under the cluster's apply lock, so concurrent applies
    /// of one cluster cannot pick the same address (the unique index is the second wall).
    func containerAddresses(nodes: [String], wanted: [Bool]) throws -> [String] {
        var addresses = Array(repeating: "", count: nodes.count)
        guard wanted.contains(true),
              try connection.query("SELECT networking FROM clusters WHERE id = $1", [clusterID]).first?
                .decode("networking", as: String.self) == ClusterNetworking.nodeSubnets.rawValue else { return addresses }
        let targets = Array(Set(zip(nodes, wanted).filter(\.1).map(\.0))).sorted()
        var subnets: [String: IPv4Network] = [:]
        for row in try connection.query("SELECT id, subnet::text AS subnet FROM nodes WHERE id = ANY($1::text[])", [targets]) {
            subnets[try row.decode("id")] = IPv4Network(try row.decode("subnet", as: String.self))
        }
        var held: [String: [String]] = [:]
        for row in try connection.query("""
            SELECT node_id, host(ip_address) AS ip FROM containers WHERE node_id = ANY($1::text[]) AND ip_address IS NOT NULL
            """, [targets]) {
            held[try row.decode("node_id"), default: []].append(try row.decode("ip"))
        }
        for node in targets {
            guard let subnet = subnets[node] else { throw SchedulingConflict(reason: "node \(node) has no subnet") }
            let positions = nodes.indices.filter { nodes[$0] == node && wanted[$0] }
            let picked = ContainerAddressAllocator.pick(positions.count, in: subnet, held: held[node] ?? [])
            guard picked.count == positions.count else {
                throw SchedulingConflict(reason: "node \(node)'s subnet \(subnet) has no free address left for \(positions.count) more containers")
            }
            for (position, address) in zip(positions, picked) { addresses[position] = address }
        }
        return addresses
    }

    struct ContainerChange { var app: String; var desired: String?; var lost = false; var replacedBy: String?; var message: String? }

    /// Desired state, lost, fencing: one statement for every touched container.
    mutating func updateContainers(_ items: [PlannedApplication], newIDs: [String: String]) throws {
        var changes: [String: ContainerChange] = [:]
        for item in items { collectChanges(item, newIDs: newIDs, into: &changes) }
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
            FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[]) AS u(id, desired, lost, replaced_by, message, app)
            WHERE c.id = u.id AND c.application_id = u.app
            """, [ids, ids.map { changes[$0]!.desired }, ids.map { changes[$0]!.lost }, ids.map { changes[$0]!.replacedBy },
                  ids.map { changes[$0]!.message }, ids.map { changes[$0]!.app }])
        if count != ids.count { throw SchedulingConflict(reason: "containers disappeared meanwhile") }
    }

    /// What `item`'s plan changes on existing containers, with its events.
    private mutating func collectChanges(_ item: PlannedApplication, newIDs: [String: String], into changes: inout [String: ContainerChange]) {
        for r in item.plan.removals {
            changes[r.containerID, default: ContainerChange(app: item.appID)].desired = "removed"
            changes[r.containerID]!.message = r.reason
            events.add("container.removing", "container", r.containerID, r.reason,
                       data: ["service_id": r.serviceID, "cause": r.cause.rawValue, "application_id": item.appID])
        }
        for s in item.plan.stops {
            if changes[s.containerID]?.desired == nil { changes[s.containerID, default: ContainerChange(app: item.appID)].desired = "stopped" }
            changes[s.containerID, default: ContainerChange(app: item.appID)].message = s.reason
            events.add("container.stopping", "container", s.containerID, s.reason, data: ["service_id": s.serviceID, "application_id": item.appID])
        }
        for l in item.plan.lost {
            changes[l.containerID, default: ContainerChange(app: item.appID)].lost = true
            outcome.lost += 1
            events.add("container.lost", "container", l.containerID, l.reason,
                       data: ["service_id": l.serviceID, "node_id": l.nodeID, "application_id": item.appID])
        }
        for r in item.plan.restarts {
            changes[r.containerID, default: ContainerChange(app: item.appID)].desired = "removed"
            changes[r.containerID, default: ContainerChange(app: item.appID)].replacedBy = newIDs[r.containerID]
        }
        for r in item.plan.replacements {
            guard let new = newIDs[r.old] else { continue }
            // Start-first keeps the old copy counted until the new one is ready; only copies that stop
            // now (stop-first, lost) are fenced.
            if r.order == .stopFirst || r.cause == .lost || changes[r.old]?.desired == "removed" {
                changes[r.old, default: ContainerChange(app: item.appID)].replacedBy = new
            }
            events.add("container.replaced", "container", r.old, r.reason,
                       data: ["service_id": r.serviceID, "replaced_by": new, "cause": r.cause.rawValue,
                              "order": r.order.rawValue, "application_id": item.appID])
        }
    }

    /// Removed containers no agent will confirm: never reported (still pending), or lost with
    /// their node. Their rows go now; an agent that still has one removes it, as it is absent
    /// from the desired state.
    mutating func deleteUnconfirmable(_ applicationIDs: [String]) throws {
        guard !applicationIDs.isEmpty else { return }
        outcome.deletedRows = try connection.execute("""
            DELETE FROM containers WHERE application_id = ANY($1::text[]) AND desired_state = 'removed'
              AND (observed_state IN ('pending', 'lost', 'removed') OR node_id IS NULL)
            """, [applicationIDs])
    }

    // MARK: Services, rollouts, deployments

    mutating func recordUnplaced(_ item: PlannedApplication) throws {
        let (plan, snap, appID) = (item.plan, item.snapshot, item.appID)
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

    mutating func persistRollouts(_ item: PlannedApplication) throws {
        let (plan, snap, appID) = (item.plan, item.snapshot, item.appID)
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
    mutating func mirrorDeployment(_ item: PlannedApplication) throws {
        let (snap, appID) = (item.snapshot, item.appID)
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

    /// Deletes the rows of an application whose containers are all gone; returns whether it did.
    mutating func finishDeletion(_ item: PlannedApplication) throws -> Bool {
        let (snap, appID) = (item.snapshot, item.appID)
        let remaining: Int = try connection.query(
            "SELECT count(*)::int8 AS n FROM containers WHERE application_id = $1", [appID])[0].decode("n")
        guard remaining == 0 else { return false }
        _ = try connection.execute("DELETE FROM applications WHERE id = $1", [appID])
        events.add("app.deleted", "application", appID, "application \(snap.applicationName) deleted: every container is removed")
        return true
    }

    /// Whether the application was deleted with `volumes=true` (its removal not yet forgotten).
    func hasVolumeRemoval(_ appID: String) throws -> Bool {
        try connection.query("SELECT EXISTS (SELECT 1 FROM volume_removals WHERE application_id = $1) AS pending", [appID])[0]
            .decode("pending", as: Bool.self)
    }
}
