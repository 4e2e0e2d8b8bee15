import CaaSModel
import CaaSPlanner
import CaaSPostgres
@testable import CaaSServer
import CaaSWorkersTestSupport
import CaaSStore
import Foundation
import Logging
import Testing

/// The scheduler's workers against a real PostgreSQL, driven through the API, with an in-process
/// agent that acknowledges pushes and reports states.
@Suite(.serialized) struct WorkersTests {
    @Test func scaleUpThenDownConvergesAndDeletesConfirmedRemovals() async throws {
        let h = try await WorkersHarness.make("wk_scale")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, services) = try await h.deploy("shop", compose: WorkerCompose.web(replicas: 3))
        let web = try #require(services["web"])
        #expect(try await h.eventually { try await h.running(app: app).count == 3 }, "three containers run")
        let spread = Set(try await h.running(app: app).compactMap(\.node))
        #expect(spread.count == 3, "spread over the three nodes")
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" })

        try await h.scale(web, 5)
        #expect(try await h.eventually { try await h.running(app: app).count == 5 }, "scaled up to five")
        try await h.scale(web, 2)
        #expect(try await h.eventually {
            let rows = try await h.containers(app: app)
            return rows.count == 2 && rows.allSatisfy { $0.observed == "running" && $0.desired == "running" }
        }, "scaled down to two; removed rows are gone once the agent confirmed")
        #expect(await h.agent.runningIDs().count == 2, "the agent runs exactly two")
        let allocated: Int = try await h.api.raw {
            try $0.query("SELECT sum(allocated_containers)::int8 AS n FROM nodes WHERE cluster_id = $1", [h.clusterID])[0].decode("n")
        }
        #expect(allocated == 2, "node usage follows placements and removals")
        let types = try await h.eventTypes()
        #expect(types.filter { $0 == "container.placed" }.count == 5)
        #expect(types.filter { $0 == "container.removing" }.count == 3)
        #expect(types.contains("container.removed"))

        // Delete: everything removed, then the application rows.
        let deleted = try await h.api.call("DELETE", "/v1/apps/\(app)", token: h.operatorToken)
        #expect([200, 202, 204].contains(deleted.status), "\(deleted.text)")
        #expect(try await h.eventually {
            try await h.api.raw { try $0.query("SELECT 1 FROM applications WHERE id = $1", [app]).isEmpty }
        }, "the application is deleted after its containers")
        #expect(await h.agent.runningIDs().isEmpty)
    }

    @Test func talkTemplateScaleLabelGivesThreeAndScalingBehavesLikeComposeScale() async throws {
        let nodes = [("n1", #"{"az":"1"}"#), ("n2", #"{"az":"2"}"#), ("n3", #"{"az":"2"}"#)]
        let h = try await WorkersHarness.make("wk_talk", nodes: nodes.map { (name: $0.0, labels: $0.1) })
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, services) = try await h.deploy("wp", compose: try TalkTemplates.text("wordpress-cloud.yml"))
        let wordpress = try #require(services["wordpress"])
        #expect(try await h.eventually { try await h.running(app: app, service: wordpress).count == 3 }, "aliyun.scale: '3'")
        let az2 = Set(h.nodeIDs.dropFirst())
        #expect(try await h.running(app: app).allSatisfy { az2.contains($0.node ?? "") }, "availability:az==2 holds")
        try await h.scale(wordpress, 5)
        #expect(try await h.eventually { try await h.running(app: app, service: wordpress).count == 5 })
        #expect(Set(try await h.running(app: app).map(\.slot)) == [1, 2, 3, 4, 5], "numbered 1…5 like docker-compose")
        try await h.scale(wordpress, 2)
        #expect(try await h.eventually { try await h.containers(app: app).count == 2 })
        let slots = try await h.running(app: app).map(\.slot)
        #expect(slots.count == 2 && Set(slots).count == 2)
    }

    @Test func rollingUpdateSucceedsBatchByBatch() async throws {
        let h = try await WorkersHarness.make("wk_roll_ok")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(image: "busybox:1", replicas: 3))
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" })
        try await h.update(app, compose: WorkerCompose.web(image: "busybox:2", replicas: 3))
        #expect(try await h.eventually(15) {
            let running = try await h.running(app: app)
            return running.count == 3 && running.allSatisfy { $0.generation == 2 }
        }, "all three moved to generation 2")
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" })
        let deployment = try #require(try await h.deployment(app: app))
        #expect(deployment.updated == 3 && deployment.total == 3, "\(deployment)")
        let types = try await h.eventTypes()
        #expect(types.contains("rollout.started") && types.contains("rollout.succeeded"))
        #expect(types.filter { $0 == "container.replaced" }.count == 3)
        // Never more than one batch (parallelism 1) away: the agent ran at most 3 + 0 at once (stop-first).
        let images = await h.agent.containers.values.filter { $0.state == .running }.map(\.image)
        #expect(images.allSatisfy { $0 == "busybox:2" })
    }

    @Test func failingUpdateRollsBackToThePreviousGeneration() async throws {
        let h = try await WorkersHarness.make("wk_roll_back")
        defer { Task { await h.shutdown() } }
        await h.agent.setFailing(["busybox:bad"])
        h.startReplica()
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(image: "busybox:1", replicas: 3))
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" })
        try await h.update(app, compose: WorkerCompose.web(image: "busybox:bad", replicas: 3))
        #expect(try await h.eventually(15) { try await h.deployment(app: app)?.status == "rolled_back" }, "rolled back")
        let deployment = try #require(try await h.deployment(app: app))
        #expect(deployment.outcome == "rolled_back", "\(deployment)")
        #expect(try await h.eventually {
            let running = try await h.running(app: app)
            return running.count == 3 && running.allSatisfy { $0.generation == 1 }
        }, "three containers of generation 1 run again")
        let types = try await h.eventTypes()
        #expect(types.contains("rollout.rolling_back") && types.contains("rollout.rolled_back"))
    }

    @Test func rolloutThatCannotProgressEndsAtItsDeadline() async throws {
        let h = try await WorkersHarness.make("wk_deadline")
        defer { Task { await h.shutdown() } }
        await h.agent.setNeverReady(["busybox:slow"])
        h.startReplica { $0.planner.rolloutTimeout = 2 }
        let compose: (String) -> String = { image in
            """
            services:
              web:
                image: \(image)
                deploy:
                  replicas: 2
                  update_config:
                    parallelism: 1
                    monitor: 0s
                    failure_action: pause
            """
        }
        let (app, _) = try await h.deploy("api", compose: compose("busybox:1"))
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" })
        try await h.update(app, compose: compose("busybox:slow"))
        #expect(try await h.eventually(10) { try await h.deployment(app: app)?.status == "failed" }, "the rollout ended")
        let deployment = try #require(try await h.deployment(app: app))
        #expect(deployment.reason?.contains("deadline") == true, "\(deployment)")
        #expect(try await h.eventTypes().contains("rollout.failed"))
    }

    @Test func nodeDownReplacesItsContainersAndItsStaleCopiesStopWhenItReturns() async throws {
        let h = try await WorkersHarness.make("wk_node_down")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(replicas: 3))
        #expect(try await h.eventually { try await h.running(app: app).count == 3 })
        let lostNode = h.nodeIDs[0]
        let onLostNode = try #require(try await h.running(app: app).first { $0.node == lostNode })
        await h.agent.takeDown(lostNode)
        #expect(try await h.eventually(10) {
            let running = try await h.running(app: app)
            return running.count == 3 && !running.contains { $0.node == lostNode }
        }, "replaced on the healthy nodes")
        let lostRow = try await h.containers(app: app).first { $0.id == onLostNode.id }
        #expect(lostRow == nil || lostRow?.observed == "lost", "the old copy is lost, never counted")
        #expect(await h.agent.runningIDs(on: lostNode).contains(onLostNode.id), "still running on the unreachable node")

        try await h.agent.bringBack(lostNode)
        #expect(try await h.eventually(10) { await h.agent.runningIDs(on: lostNode).isEmpty }, "the stale copy was stopped and removed")
        #expect(try await h.running(app: app).count == 3, "never two copies counted")
        let status = try await h.api.raw { try $0.query("SELECT status FROM nodes WHERE id = $1", [lostNode])[0].decode("status", as: String.self) }
        #expect(status == "ready")
        let types = try await h.eventTypes()
        #expect(types.contains("node.down") && types.contains("container.lost") && types.contains("node.ready"))
    }

    @Test func aControlPlaneBackFromDowntimeGivesAgentsTimeBeforeMarkingNodesDown() async throws {
        let h = try await WorkersHarness.make("wk_watch_since")
        defer { Task { await h.shutdown() } }
        // The last heartbeats are an hour old: the control plane itself was away.
        _ = try await h.api.raw { try $0.execute("UPDATE nodes SET last_heartbeat_at = now() - interval '1 hour'") }
        let justStarted = try await h.store.systemTransaction { try $0.markSilentNodesDown(after: 3, watchingSince: Date()) }
        #expect(justStarted.isEmpty, "a monitor that began watching now waits node_down_after first")
        let watchingAWhile = try await h.store.systemTransaction {
            try $0.markSilentNodesDown(after: 3, watchingSince: Date().addingTimeInterval(-10))
        }
        #expect(Set(watchingAWhile.map(\.nodeID)) == Set(h.nodeIDs), "silent since the monitor began watching: down")
    }

    @Test func aNodeWhoseLiveAgentReportsItsEngineUnreachableGoesDownBeforeASilentNodeWould() async throws {
        let h = try await WorkersHarness.make("wk_unreachable")
        defer { Task { await h.shutdown() } }
        let now = Date()
        let beat = Heartbeat(clusterId: h.clusterID, agentVersion: "test", appliedGeneration: 0, sentAt: now, nodes: h.nodeIDs.enumerated().map {
            NodeObservation(nodeId: $0.element, engineReachable: $0.offset != 0, error: $0.offset == 0 ? "connection refused" : nil, observedAt: now)
        })
        _ = try await h.store.systemTransaction { try $0.applyHeartbeat(beat, clusterID: h.clusterID) }
        let since = try await h.api.raw {
            try $0.query("SELECT id FROM nodes WHERE engine_unreachable_since IS NOT NULL").map { try $0.decode("id", as: String.self) }
        }
        #expect(since == [h.nodeIDs[0]], "only the node the agent cannot reach is marked unreachable")
        // Nothing is down before node_unreachable_after has passed.
        #expect(try await h.store.systemTransaction { try $0.markSilentNodesDown(after: 3, unreachableAfter: 1) }.isEmpty)
        // Two seconds later (heartbeats still arriving, so not silent): down, with the engine's reason.
        _ = try await h.api.raw {
            try $0.execute("UPDATE nodes SET engine_unreachable_since = now() - interval '2 seconds', last_heartbeat_at = now()")
            try $0.execute("UPDATE nodes SET engine_unreachable_since = NULL WHERE id <> $1", [h.nodeIDs[0]])
        }
        let down = try await h.store.systemTransaction { try $0.markSilentNodesDown(after: 3, unreachableAfter: 1) }
        #expect(down.map(\.nodeID) == [h.nodeIDs[0]])
        let reason = try await h.api.raw {
            try $0.query("SELECT status_reason FROM nodes WHERE id = $1", [h.nodeIDs[0]])[0].decode("status_reason", as: String.self)
        }
        #expect(reason == "engine unreachable: connection refused")
        // A reachable heartbeat clears it and brings the node back.
        let back = Heartbeat(clusterId: h.clusterID, agentVersion: "test", appliedGeneration: 0, sentAt: Date(),
                             nodes: [NodeObservation(nodeId: h.nodeIDs[0], engineReachable: true, observedAt: Date())])
        _ = try await h.store.systemTransaction { try $0.applyHeartbeat(back, clusterID: h.clusterID) }
        let cleared = try await h.api.raw {
            try $0.query("SELECT status, engine_unreachable_since IS NULL AS cleared FROM nodes WHERE id = $1", [h.nodeIDs[0]])[0]
        }
        #expect(try cleared.decode("status", as: String.self) == "ready")
        #expect(try cleared.decode("cleared", as: Bool.self))
    }

    @Test func killedReplicaLosesItsJobAndTheOtherFinishesItOnce() async throws {
        let h = try await WorkersHarness.make("wk_replicas")
        defer { Task { await h.shutdown() } }
        let claimed = ClaimLatch()
        h.startReplica("r1") { settings in
            settings.beforeApply = { _, _ in
                await claimed.open()
                try await Task.sleep(nanoseconds: 60_000_000_000) // stuck until killed
            }
        }
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(replicas: 3))
        #expect(try await h.eventually { await claimed.isOpen }, "r1 claimed the reconcile job")
        await h.kill("r1")
        #expect(try await h.jobs(kind: "reconcile").first?.lockedBy == "r1", "the job is still leased to the dead replica")
        let r2 = h.startReplica("r2")
        #expect(try await h.eventually(10) { try await h.running(app: app).count == 3 }, "r2 finished it")
        let jobs = try await h.jobs(kind: "reconcile")
        #expect(jobs.first?.state == "succeeded" && jobs.first?.attempts == 2, "\(jobs)")
        #expect(try await h.containers(app: app).count == 3, "placed once, not twice")
        #expect(try await h.eventTypes().filter { $0 == "container.placed" }.count == 3)
        #expect(try await h.eventually(5) { r2.leadership.isLeader }, "r2 leads the singleton loops")
    }

    @Test func applicationsDueTogetherArePlacedAsOneBatchAndSpreadAcrossIt() async throws {
        let h = try await WorkersHarness.make("wk_batch")
        defer { Task { await h.shutdown() } }
        // Six applications queue their reconcile jobs before any worker runs.
        var apps: [String] = []
        for n in 1...6 { apps.append(try await h.deploy("batch\(n)", compose: WorkerCompose.web(replicas: 2)).app) }
        h.startReplica()
        #expect(try await h.eventually {
            try await h.api.raw { try $0.query("SELECT count(*)::int8 AS n FROM containers")[0].decode("n", as: Int.self) } == 12
        }, "twelve containers placed")
        let generation: Int64 = try await h.api.raw {
            try $0.query("SELECT desired_generation FROM clusters WHERE id = $1", [h.clusterID])[0].decode("desired_generation")
        }
        #expect(generation == 1, "one apply, one cluster generation for all six applications")
        let perNode: [Int] = try await h.api.raw {
            try $0.query("SELECT count(*)::int8 AS n FROM containers GROUP BY node_id ORDER BY node_id").map { try $0.decode("n") }
        }
        #expect(perNode == [4, 4, 4], "the batch spreads its twelve containers evenly, not each application on the same nodes")
        for app in apps {
            #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" }, "\(app) deployed")
        }
        #expect(try await h.eventTypes().filter { $0 == "container.placed" }.count == 12)
        #expect(try await h.jobs(kind: "reconcile").allSatisfy { $0.state == "succeeded" })
    }

    @Test func aBatchWithAStaleApplicationFallsBackToOneByOneAndLosesNothing() async throws {
        let h = try await WorkersHarness.make("wk_batch_stale")
        defer { Task { await h.shutdown() } }
        var apps: [(app: String, web: String)] = []
        for n in 1...3 {
            let (app, services) = try await h.deploy("stale\(n)", compose: WorkerCompose.web(replicas: 2))
            apps.append((app, try #require(services["web"])))
        }
        // While the first batch is planned, the second application is scaled: its snapshot is
        // stale, so the batch is refused as a whole and every job runs on its own.
        let once = ClaimLatch()
        let api = h.api, token = h.operatorToken, victim = apps[1].web
        h.startReplica { settings in
            settings.beforeApply = { _, _ in
                guard await once.openFirst() else { return }
                let reply = try await api.call("POST", "/v1/services/\(victim)/scale", token: token, body: #"{"replicas":3}"#)
                #expect(reply.status == 200 || reply.status == 202, "\(reply.text)")
            }
        }
        for (app, count) in zip(apps.map(\.app), [2, 3, 2]) {
            #expect(try await h.eventually { try await h.running(app: app).count == count }, "\(app) runs \(count)")
        }
        #expect(try await h.eventTypes().filter { $0 == "container.placed" }.count == 7, "placed once each, none twice")
        let scaled = apps[1].app
        let placings: Int = try await h.api.raw {
            try $0.query("SELECT count(DISTINCT created_at)::int8 AS n FROM containers WHERE application_id = $1", [scaled])[0].decode("n")
        }
        #expect(placings == 1, "the scaled application's stale plan was never applied: its three containers came in one change")
        let jobs = try await h.jobs(kind: "reconcile")
        #expect(!jobs.contains { $0.state == "failed" }, "\(jobs)")
    }

    @Test func singletonLoopsFailOverWithinSecondsAndTwoReplicasNeverDoubleWork() async throws {
        let h = try await WorkersHarness.make("wk_leader")
        defer { Task { await h.shutdown() } }
        let r1 = h.startReplica("r1")
        #expect(try await h.eventually(5) { r1.leadership.isLeader })
        let r2 = h.startReplica("r2")
        try await Task.sleep(nanoseconds: 700_000_000)
        #expect(!r2.leadership.isLeader, "one leader at a time")
        var apps: [String] = []
        for i in 0..<4 { apps.append(try await h.deploy("app\(i)", compose: WorkerCompose.web(replicas: 3)).app) }
        let started = Date()
        await h.kill("r1")
        #expect(try await h.eventually(5) { r2.leadership.isLeader }, "r2 took over")
        let failover = Date().timeIntervalSince(started)
        #expect(failover < 3, "failover took \(failover)s")
        for app in apps {
            let converged = try await h.eventually(10) { try await h.running(app: app).count == 3 }
            let rows = try await h.containers(app: app)
            let reconciles = try await h.jobs(kind: "reconcile")
            let pushes = try await h.jobs(kind: "push")
            let generations: String = try await h.api.raw {
                let row = try $0.query("SELECT desired_generation, pushed_generation FROM clusters WHERE id = $1", [h.clusterID])[0]
                return "desired \(try row.decode("desired_generation", as: Int64.self)) pushed \(try row.decode("pushed_generation", as: Int64.self))"
            }
            let agentState = "agent applied \(await h.agent.appliedGeneration), pushes \(await h.agent.pushes.map(\.generation)), running \(await h.agent.runningIDs().count)"
            #expect(converged, "\(rows); jobs \(reconciles) \(pushes); \(generations); \(agentState)")
            #expect(try await h.containers(app: app).count == 3, "nothing placed twice")
        }
        // The new leader's node monitor works: a silent node goes down.
        await h.agent.takeDown(h.nodeIDs[2])
        #expect(try await h.eventually(6) {
            try await h.api.raw { try $0.query("SELECT status FROM nodes WHERE id = $1", [h.nodeIDs[2]])[0].decode("status", as: String.self) } == "down"
        })
    }

    @Test func aLeaderWhoseSessionIsTerminatedIsReplacedAndItsOldTermCannotWrite() async throws {
        let h = try await WorkersHarness.make("wk_leader_fence")
        defer { Task { await h.shutdown() } }
        let r1 = h.startReplica("r1")
        #expect(try await h.eventually(5) { r1.leadership.isLeader })
        let r2 = h.startReplica("r2")
        @Sendable func term() async throws -> LeadershipTerm? {
            try await h.api.raw { c in
                try c.query("SELECT epoch, holder FROM leadership_terms WHERE name = 'singletons'").first.map {
                    LeadershipTerm(name: "singletons", epoch: try $0.decode("epoch"), holder: try $0.decode("holder"))
                }
            }
        }
        let first = try #require(try await term())
        #expect(first.holder == "r1")
        // The database ends r1's lock session (as a failover, a restart or an operator would). Only
        // this test's database: other suites share the server and hold advisory locks of their own.
        let started = Date()
        let killed: Int = try await h.api.raw { c in
            try c.query("""
                SELECT count(pg_terminate_backend(pid))::int8 AS n FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """)[0].decode("n")
        }
        #expect(killed == 1, "the leader's lock session")
        #expect(try await h.eventually(5) { (try await term())?.epoch ?? 0 > first.epoch }, "a new term began within 5 s")
        let second = try #require(try await term())
        print("leadership: a new term (\(second.holder), epoch \(second.epoch)) \(Date().timeIntervalSince(started)) s after the session was terminated")
        // Whoever leads now, a write fenced by the old term is refused and changes nothing.
        let loops = SingletonLoops(store: h.store, settings: WorkersHarness.settings("stale"), signal: h.signal, logger: Logger(label: "test.stale"))
        await h.agent.takeDown(h.nodeIDs[2])
        try await Task.sleep(nanoseconds: 2_000_000_000)
        await #expect(throws: LeadershipLost.self) { try await loops.monitorNodes(term: first) }
        await #expect(throws: LeadershipLost.self) { try await loops.tick(term: first) }
        try await loops.monitorNodes(term: second)
        _ = r2
    }

    @Test func restartPolicyRestartsWithBackoffVisibleOnTheContainer() async throws {
        let h = try await WorkersHarness.make("wk_restart")
        defer { Task { await h.shutdown() } }
        await h.agent.setFailing(["busybox:crash"])
        h.startReplica()
        let (app, _) = try await h.deploy("crashy", compose: """
            services:
              job:
                image: busybox:crash
                restart: always
            """)
        #expect(try await h.eventually(10) {
            let restarts: Int = try await h.api.raw {
                try $0.query("SELECT COALESCE(max(restart_count), 0)::int8 AS n FROM containers WHERE application_id = $1", [app])[0].decode("n")
            }
            return restarts >= 2
        }, "restarted repeatedly")
        let types = try await h.eventTypes()
        #expect(types.contains("container.restart_scheduled"))
        let held: Int = try await h.api.raw {
            try $0.query("SELECT count(*)::int8 AS n FROM containers WHERE application_id = $1 AND not_before IS NOT NULL", [app])[0].decode("n")
        }
        #expect(held >= 1, "the next attempt is visible on the container")
    }

    @Test func failedJobsAreVisibleToAdministratorsAndCanBeRetried() async throws {
        let h = try await WorkersHarness.make("wk_admin_jobs")
        defer { Task { await h.shutdown() } }
        let id: Int64 = try await h.store.systemTransaction { try $0.enqueue(NewJob(kind: .reconcile, payload: "{}", maxAttempts: 1)) }
        h.startReplica()
        #expect(try await h.eventually { try await h.jobs(kind: "reconcile").first?.state == "failed" })
        let list = try await h.api.call("GET", "/v1/admin/jobs?state=failed", token: h.api.systemToken)
        #expect(list.status == 200, "\(list.text)")
        #expect(list.items.contains { $0["id"]?.stringValue == String(id) && $0["last_error"]?.stringValue?.contains("application_id") == true })
        let forbidden = try await h.api.call("GET", "/v1/admin/jobs", token: h.adminToken)
        #expect(forbidden.status == 403)
        let retry = try await h.api.call("POST", "/v1/admin/jobs/\(id)/retry", token: h.api.systemToken)
        #expect(retry.status == 202, "\(retry.text)")
        #expect(try await h.eventually {
            let job = try await h.jobs(kind: "reconcile").first
            return job?.attempts == 1 && job?.state == "failed"
        })
    }

    @Test func rollbackOnDemandReturnsToThePreviousGeneration() async throws {
        let h = try await WorkersHarness.make("wk_rollback")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(image: "busybox:1", replicas: 2))
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "succeeded" })
        try await h.update(app, compose: WorkerCompose.web(image: "busybox:2", replicas: 2))
        #expect(try await h.eventually(10) {
            let running = try await h.running(app: app)
            let status = try await h.deployment(app: app)?.status
            return running.count == 2 && running.allSatisfy { $0.generation == 2 } && status == "succeeded"
        })
        let reply = try await h.api.call("POST", "/v1/apps/\(app)/rollback", token: h.operatorToken)
        #expect(reply.status == 202, "\(reply.text)")
        #expect(try await h.eventually(10) {
            let running = try await h.running(app: app)
            return running.count == 2 && running.allSatisfy { $0.generation == 1 }
        })
        #expect(try await h.eventually { try await h.deployment(app: app)?.status == "rolled_back" })
    }

    @Test func autoscalerScalesOnReportedCPU() async throws {
        let h = try await WorkersHarness.make("wk_autoscale")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, _) = try await h.deploy("hot", compose: """
            services:
              web:
                image: busybox:1
                labels:
                  aliyun.scale: '2'
                  aliyun.auto_scaling.max_cpu: '70'
                  aliyun.auto_scaling.min_cpu: '10'
                  aliyun.auto_scaling.step: '1'
                  aliyun.auto_scaling.max_instances: '3'
                  aliyun.auto_scaling.min_instances: '1'
            """)
        #expect(try await h.eventually { try await h.running(app: app).count == 2 })
        try await h.agent.setCPU(95)
        #expect(try await h.eventually(10) { try await h.running(app: app).count == 3 }, "scaled up on high CPU")
        #expect(try await h.eventTypes().contains("service.autoscaled"))
    }
}

actor ClaimLatch {
    private(set) var isOpen = false
    func open() { isOpen = true }
    /// Opens the latch; true only for the first caller.
    func openFirst() -> Bool {
        defer { isOpen = true }
        return !isOpen
    }
}

extension WorkersTests {
    @Test func unplacedContainersAreExplainedAndPlacedWhenANodeThatFitsArrives() async throws {
        let h = try await WorkersHarness.make("wk_unplaced")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, services) = try await h.deploy("gpu", compose: """
            services:
              trainer:
                image: busybox:1
                deploy:
                  replicas: 2
                  placement:
                    constraints: ["node.labels.gpu == yes"]
            """)
        let trainer = try #require(services["trainer"])
        #expect(try await h.eventually {
            let text: String? = try await h.api.raw { try $0.query("SELECT unplaced FROM services WHERE id = $1", [trainer])[0].decode("unplaced") }
            return text?.contains("2 unplaced") == true
        }, "the explanation is on the service")
        #expect(try await h.eventTypes(objectID: trainer).contains("service.unplaced"))
        #expect(try await h.containers(app: app).isEmpty, "nothing pretends to run")
        let node = try await h.api.createNode(h.adminToken, cluster: h.clusterID, name: "gpu1", labels: #"{"gpu":"yes"}"#)
        let nodeID = try #require(node["id"]?.stringValue, "\(node.text)")
        await h.agent.setNodes(h.nodeIDs + [nodeID])
        #expect(try await h.eventually(10) { try await h.running(app: app).count == 2 }, "placed once a node fits")
        #expect(try await h.running(app: app).allSatisfy { $0.node == nodeID })
    }

    @Test func theContainersQuotaHoldsWhereContainersAreBornAndHeldSlotsFollowWhenRoomReturns() async throws {
        let h = try await WorkersHarness.make("wk_quota")
        defer { Task { await h.shutdown() } }
        let patched = try await h.api.call("PATCH", "/v1/tenants/\(h.tenantID)", token: h.api.systemToken, body: #"{"quotas":{"containers":4}}"#,
                                           headers: ["Content-Type": "application/merge-patch+json"])
        #expect(patched.status == 200, "\(patched.text)")
        h.startReplica()
        let (first, _) = try await h.deploy("first", compose: WorkerCompose.web(replicas: 3))
        #expect(try await h.eventually { try await h.running(app: first).count == 3 })
        let (second, services) = try await h.deploy("second", compose: WorkerCompose.web(replicas: 3))
        let web = try #require(services["web"])
        @Sendable func unplaced() async throws -> String? {
            try await h.api.raw { try $0.query("SELECT unplaced FROM services WHERE id = $1", [web])[0].decode("unplaced") }
        }
        let held = try await h.eventually { try await unplaced() == "2 unplaced (slots 2, 3): quota: containers 4/4" }
        let shown = try await unplaced()
        let secondRows = try await h.containers(app: second)
        #expect(held, "\(String(describing: shown)) \(secondRows)")
        #expect(try await h.eventually { try await h.running(app: second).count == 1 })
        let live: Int = try await h.api.raw { try $0.query("SELECT count(*)::int8 AS n FROM containers WHERE desired_state <> 'removed'")[0].decode("n") }
        #expect(live == 4, "the scheduler never went past the quota")
        // A full quota never stops an application healing or updating: replacements pass.
        try await h.update(first, compose: WorkerCompose.web(image: "busybox:2", replicas: 3))
        #expect(try await h.eventually(15) {
            let running = try await h.running(app: first)
            return running.count == 3 && running.allSatisfy { $0.generation == 2 }
        }, "the update went through at 4/4")
        // Room again (the first application scales down): the held slots are placed by themselves.
        let firstWeb = try #require(try await h.api.call("GET", "/v1/apps/\(first)/services", token: h.operatorToken).items.first?["id"]?.stringValue)
        try await h.scale(firstWeb, 1)
        #expect(try await h.eventually(10) { try await h.running(app: second).count == 3 }, "held slots placed once there is room")
        #expect(try await h.eventually { try await unplaced() == nil })
    }
}

extension WorkersTests {
    @Test func agentEndpointsRefuseStrangersAndOtherClustersAndServeTheDesiredState() async throws {
        let h = try await WorkersHarness.make("wk_agent_api")
        defer { Task { await h.shutdown() } }
        let stranger = await h.endpoints.respond(method: "POST", path: "/v1/agent/heartbeats", body: [], credentials: AgentCredentials(bearer: "nope"))
        #expect(stranger.status == 401)
        let beat = Heartbeat(clusterId: "clu_00000000000000000000", agentVersion: "t", appliedGeneration: 0, sentAt: Date(), nodes: [])
        let other = await h.endpoints.respond(method: "POST", path: "/v1/agent/heartbeats",
                                              body: Array(try AgentWire.encoder().encode(beat)), credentials: AgentCredentials(bearer: "agent-secret"))
        #expect(other.status == 403, "an agent speaks only for its own cluster")
        let bad = await h.endpoints.respond(method: "POST", path: "/v1/agent/reports", body: Array("{".utf8), credentials: AgentCredentials(bearer: "agent-secret"))
        #expect(bad.status == 400)
        h.startReplica()
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(replicas: 2))
        #expect(try await h.eventually { try await h.running(app: app).count == 2 })
        let state = await h.endpoints.respond(method: "GET", path: "/v1/agent/desired-state", body: [], credentials: AgentCredentials(bearer: "agent-secret"))
        #expect(state.status == 200)
        let decoded = try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(state.body))
        #expect(decoded.clusterId == h.clusterID && decoded.nodes.flatMap(\.containers).count == 2)
        let pushes = await h.agent.pushes
        #expect(pushes.last?.generation == decoded.generation, "the resync matches the last push")
    }
}

extension WorkersTests {
    @Test func drainingANodeMovesItsContainersStartFirst() async throws {
        let h = try await WorkersHarness.make("wk_drain")
        defer { Task { await h.shutdown() } }
        h.startReplica()
        let (app, _) = try await h.deploy("api", compose: WorkerCompose.web(replicas: 3))
        #expect(try await h.eventually { try await h.running(app: app).count == 3 })
        let drained = h.nodeIDs[0]
        let moving = try #require(try await h.running(app: app).first { $0.node == drained })
        let reply = try await h.api.call("POST", "/v1/nodes/\(drained)/drain", token: h.operatorToken)
        #expect([200, 202].contains(reply.status), "\(reply.text)")
        #expect(try await h.eventually(10) {
            let running = try await h.running(app: app)
            return running.count == 3 && !running.contains { $0.node == drained }
        }, "moved off the draining node")
        #expect(try await h.eventually { await !h.agent.runningIDs(on: drained).contains(moving.id) }, "the old copy is removed once the new one runs")
        #expect(try await h.eventTypes(objectID: moving.id).contains("container.replaced"))
    }
}
