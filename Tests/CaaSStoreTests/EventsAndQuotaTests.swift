import CaaSModel
import CaaSPostgres
@testable import CaaSStore
import Foundation
import Testing

/// Collects what a concurrent reader saw.
final class Observed: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [Int64] = []
    func append(_ more: [Int64]) { lock.lock(); ids += more; lock.unlock() }
    var all: [Int64] { lock.lock(); defer { lock.unlock() }; return ids }
}

@Suite struct EventsAndQuotaTests {
    func tenant(_ db: StoreTestDatabase, _ name: String, quotas: [String: Int] = [:]) async throws -> TenantScope {
        let id = Identifier.make(.tenant)
        _ = try await db.store.systemTransaction { try $0.createTenant(id: id, name: name, displayName: name, quotas: quotas) }
        return TenantScope(tenantID: id)
    }

    @Test func eventIdsAreGapFreeAndNeverFilledInBehindAReader() async throws {
        let db = try await StoreTestDatabase.make("events_gapfree")
        let scope = try await tenant(db, "alpha")
        let writers = 6, perWriter = 15
        let observed = Observed()
        let store = db.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in 0..<perWriter {
                        try await store.transaction(scope) { tx in
                            try tx.appendEvent(type: "test.wrote", objectKind: "test", objectID: "w\(writer)", summary: "write \(n)")
                            // Hold the transaction a little so writers overlap.
                            _ = try tx.connection.query("SELECT pg_sleep(0.002)::text")
                        }
                    }
                }
            }
            group.addTask {
                var after: Int64 = 1  // the tenant.created event
                let total = Int64(writers * perWriter + 1)
                let deadline = Date().addingTimeInterval(60)
                while after < total, Date() < deadline {
                    let from = after
                    let page = try await store.transaction(scope) { try $0.events(after: from, limit: 7) }
                    observed.append(page.map(\.id))
                    if let last = page.last?.id { after = last }
                }
            }
            try await group.waitForAll()
        }
        let seen = observed.all
        #expect(seen == Array(2...Int64(writers * perWriter + 1)), "the reader saw a gap or a reordering")
        let all = try await db.store.transaction(scope) { try $0.events(after: 0, limit: 500) }.map(\.id)
        #expect(all == Array(1...Int64(writers * perWriter + 1)))
    }

    @Test func concurrentCreatesCannotExceedAQuota() async throws {
        let db = try await StoreTestDatabase.make("quota_race")
        try await db.database.pool.withConnection { connection in
            try connection.executeScript("""
                CREATE TABLE things (id text PRIMARY KEY, tenant_id text NOT NULL);
                ALTER TABLE things ENABLE ROW LEVEL SECURITY; ALTER TABLE things FORCE ROW LEVEL SECURITY;
                CREATE POLICY tenant_isolation ON things USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));
                GRANT SELECT, INSERT, UPDATE, DELETE ON things TO caas_app;
                """)
        }
        let scope = try await tenant(db, "alpha", quotas: ["things": 3])
        let store = db.store
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for n in 0..<10 {
                group.addTask {
                    do {
                        try await store.transaction(scope) { tx in
                            try tx.enforceQuota(name: "things", adding: 1, defaultLimit: 100,
                                                countSQL: "SELECT count(*)::int8 AS n FROM things WHERE tenant_id = $1")
                            _ = try tx.connection.query("SELECT pg_sleep(0.01)::text")
                            _ = try tx.connection.execute("INSERT INTO things (id, tenant_id) VALUES ($1, $2)", ["t\(n)", scope.tenantID])
                            try tx.appendEvent(type: "thing.created", objectKind: "thing", objectID: "t\(n)", summary: "created")
                        }
                        return "created"
                    } catch StoreError.quotaExceeded(let quota, let limit, _) {
                        #expect(quota == "things" && limit == 3)
                        return "refused"
                    }
                }
            }
            var all: [String] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.filter { $0 == "created" }.count == 3)
        #expect(outcomes.filter { $0 == "refused" }.count == 7)
        // Nothing partially applied: 3 rows, and 3 events after tenant.created.
        #expect(try await db.rawCount("things", tenant: scope.tenantID) == 3)
        #expect(try await db.rawCount("events", tenant: scope.tenantID) == 4)
    }

    @Test func quotaDefaultsApplyWithoutAnOverride() {
        let defaults = QuotaDefaults(clusters: 2, nodes: 5, applications: 7, containers: 9)
        #expect(defaults.limit(.clusters, overrides: [:]) == 2)
        #expect(defaults.limit(.clusters, overrides: ["clusters": 4]) == 4)
        #expect(defaults.limit(.containers, overrides: ["clusters": 4]) == 9)
    }

    @Test func concurrentClaimsOfOneIdempotencyKeyLetExactlyOneRequestRun() async throws {
        let db = try await StoreTestDatabase.make("idem_claims")
        let scope = try await tenant(db, "alpha")
        let store = db.store
        let digest = String(repeating: "ab", count: 32)
        let claims = try await withThrowingTaskGroup(of: IdempotencyClaim.self) { group in
            for _ in 0..<8 {
                group.addTask { try await store.transaction(scope) { try $0.claimIdempotencyKey("key-1", requestDigestHex: digest) } }
            }
            var all: [IdempotencyClaim] = []
            for try await claim in group { all.append(claim) }
            return all
        }
        #expect(claims.filter { $0 == .claimed }.count == 1)
        #expect(claims.filter { $0 == .inProgress }.count == 7)
        let stored = StoredResponse(status: 201, headersJSON: "[]", bodyHex: "7b7d")
        try await store.transaction(scope) { try $0.completeIdempotencyKey("key-1", response: stored) }
        #expect(try await store.transaction(scope) { try $0.claimIdempotencyKey("key-1", requestDigestHex: digest) } == .replay(stored))
        let other = String(repeating: "cd", count: 32)
        #expect(try await store.transaction(scope) { try $0.claimIdempotencyKey("key-1", requestDigestHex: other) } == .mismatch)
        // Keys are per tenant: another tenant's same key is its own.
        let beta = try await tenant(db, "beta")
        #expect(try await store.transaction(beta) { try $0.claimIdempotencyKey("key-1", requestDigestHex: other) } == .claimed)
    }

    @Test func staleVersionsAreRefusedAndMissingTenantsAreNotFound() async throws {
        let db = try await StoreTestDatabase.make("versions")
        let scope = try await tenant(db, "alpha")
        let id = scope.tenantID
        let updated = try await db.store.systemTransaction {
            try $0.updateTenant(id, expectedVersion: 1, changes: TenantChanges(displayName: "Alpha", quotas: ["clusters": 2]))
        }
        #expect(updated.version == 2 && updated.quotas == ["clusters": 2] && updated.displayName == "Alpha")
        await #expect(throws: StoreError.versionMismatch(current: 2)) {
            try await db.store.systemTransaction { try $0.updateTenant(id, expectedVersion: 1, changes: TenantChanges(displayName: "x")) }
        }
        let missing = Identifier.make(.tenant)
        await #expect(throws: StoreError.notFound(kind: "tenant", id: missing)) {
            try await db.store.systemTransaction { try $0.deleteTenant(missing, expectedVersion: nil) }
        }
        await #expect(throws: StoreError.conflict("a tenant named alpha exists")) {
            try await db.store.systemTransaction { try $0.createTenant(id: Identifier.make(.tenant), name: "alpha", displayName: "", quotas: [:]) }
        }
    }

    @Test func pruneKeepsEventCountersSoIdsAreNeverReused() async throws {
        let db = try await StoreTestDatabase.make("prune")
        let scope = try await tenant(db, "alpha")
        try await db.store.transaction(scope) { try $0.appendEvent(type: "x.y", objectKind: "x", objectID: "1", summary: "s") }
        let counts = try await db.store.systemTransaction { try $0.prune(RetentionPolicy(eventSeconds: 0, idempotencySeconds: 0, auditSeconds: 0)) }
        #expect(counts.events == 2)
        let next = try await db.store.transaction(scope) { try $0.appendEvent(type: "x.y", objectKind: "x", objectID: "1", summary: "s") }
        #expect(next == 3)
    }
}

/// What migration 0007 checks once per statement or through one composite key, against raw SQL
/// as the table owner (the store's code paths never break these rules, so only SQL can try).
@Suite struct BulkWriteReferenceTests {
    func seed(_ db: StoreTestDatabase) async throws {
        try await db.database.pool.withConnection { c in
            try c.executeScript("""
                INSERT INTO tenants (id, name) VALUES ('ten_a', 'acme'), ('ten_b', 'other');
                INSERT INTO clusters (id, tenant_id, name, network_cidr, node_subnet_prefix, join_token_digest)
                    VALUES ('clu_a', 'ten_a', 'prod', '10.0.0.0/16', 24, decode(repeat('00', 32), 'hex'));
                INSERT INTO nodes (id, tenant_id, cluster_id, name, engine_endpoint, subnet, capacity_cpus, capacity_memory)
                    VALUES ('nod_a', 'ten_a', 'clu_a', 'n1', 'unix:///x', '10.0.1.0/24', 4, 1000000000);
                INSERT INTO applications (id, tenant_id, cluster_id, name, source, spec) VALUES ('app_a', 'ten_a', 'clu_a', 'shop', 'compose', '{}');
                INSERT INTO services (id, tenant_id, application_id, name, kind, spec) VALUES ('svc_a', 'ten_a', 'app_a', 'web', 'container', '{}');
                """)
        }
    }

    func insertContainer(_ db: StoreTestDatabase, id: String, tenant: String, app: String = "app_a") async throws {
        try await db.database.pool.withConnection { c in
            _ = try c.execute("""
                INSERT INTO containers (id, tenant_id, application_id, service_id, node_id, slot, generation, desired_state, observed_state)
                VALUES ($1, $2, $3, 'svc_a', 'nod_a', 1, 1, 'running', 'pending')
                """, [id, tenant, app])
        }
    }

    @Test func aContainerBelongsToItsServicesApplicationAndTenantAndGoesWithThem() async throws {
        let db = try await StoreTestDatabase.make("bulk_refs_containers")
        try await seed(db)
        try await insertContainer(db, id: "ctr_a", tenant: "ten_a")
        await #expect(throws: PostgresError.self, "another tenant's container under this service") {
            try await insertContainer(db, id: "ctr_b", tenant: "ten_b")
        }
        try await db.database.pool.withConnection { c in
            #expect(throws: PostgresError.self, "a tenant that has services stays") { try c.execute("DELETE FROM tenants WHERE id = 'ten_a'") }
            try c.execute("DELETE FROM applications WHERE id = 'app_a'")
            #expect(try c.query("SELECT count(*)::int8 AS n FROM containers")[0].decode("n", as: Int.self) == 0,
                    "the application's services and their containers went with it")
        }
    }

    @Test func eventsNeedAnExistingTenantAndGoWithIt() async throws {
        let db = try await StoreTestDatabase.make("bulk_refs_events")
        try await seed(db)
        try await db.database.pool.withConnection { c in
            try c.execute("""
                INSERT INTO events (tenant_id, id, type, object_kind, object_id, summary)
                SELECT t, n, 'x', 'y', 'z', 's' FROM unnest(ARRAY['ten_a', 'ten_b']) AS t, generate_series(1, 3) AS n
                """)
            do {
                try c.execute("INSERT INTO events (tenant_id, id, type, object_kind, object_id, summary) VALUES ('ten_zz', 1, 'x', 'y', 'z', 's')")
                Issue.record("an event of a tenant that does not exist was stored")
            } catch let error as PostgresError {
                #expect(error.fields.sqlState == "23503", "\(error)")
            }
            try c.execute("DELETE FROM tenants WHERE id = 'ten_b'")
            let left = try c.query("SELECT tenant_id, count(*)::int8 AS n FROM events GROUP BY tenant_id").map {
                "\(try $0.decode("tenant_id", as: String.self))=\(try $0.decode("n", as: Int.self))"
            }
            #expect(left == ["ten_a=3"], "only the deleted tenant's events went")
        }
    }
}
