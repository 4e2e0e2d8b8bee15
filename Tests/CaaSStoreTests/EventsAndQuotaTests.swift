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
