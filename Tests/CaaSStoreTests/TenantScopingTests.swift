import CaaSModel
import CaaSPostgres
@testable import CaaSStore
import Foundation
import Testing

@Suite struct TenantScopingTests {
    func seed(_ db: StoreTestDatabase, names: [String]) async throws -> [String] {
        var ids: [String] = []
        for name in names {
            let id = Identifier.make(.tenant)
            let digest = String(repeating: name.hasPrefix("a") ? "a" : "b", count: 63) + String(ids.count)
            _ = try await db.store.systemTransaction { tx in
                _ = try tx.createTenant(id: id, name: name, displayName: name, quotas: [:])
                _ = try tx.createToken(in: id, NewToken(id: Identifier.make(.token), name: "admin", role: "admin",
                                                        digestHex: digest,
                                                        expiresAt: nil, createdBy: nil))
            }
            ids.append(id)
        }
        return ids
    }

    @Test func aQueryWithoutScopeSeesNoRowsOfAnyTenantTable() async throws {
        let db = try await StoreTestDatabase.make("rls_noscope")
        _ = try await seed(db, names: ["alpha", "beta"])
        for table in ["tenants", "api_tokens", "events", "idempotency_keys", "audit_log"] {
            #expect(try await db.rawCount(table) == 0, "\(table) is visible without a scope")
        }
        #expect(try await db.rawCount("tenants", system: true) == 2)
        #expect(try await db.rawCount("api_tokens", system: true) == 2)
        #expect(try await db.rawCount("events", system: true) == 4)
    }

    @Test func aTenantScopeSeesOnlyItsOwnRows() async throws {
        let db = try await StoreTestDatabase.make("rls_scope")
        let ids = try await seed(db, names: ["alpha", "beta"])
        #expect(try await db.rawCount("tenants", tenant: ids[0]) == 1)
        #expect(try await db.rawCount("api_tokens", tenant: ids[0]) == 1)
        #expect(try await db.rawCount("events", tenant: ids[0]) == 2)
        let other = ids[1]
        let seen = try await db.store.transaction(TenantScope(tenantID: ids[0])) { tx in
            try tx.tokens(filter: TokenFilter(), limit: 50, after: nil).map(\.0.tenantID)
        }
        #expect(seen == [ids[0]])
        // Even a repository asked for the other tenant's rows gets nothing.
        let otherToken = try await db.store.systemTransaction { tx in
            try tx.asTenant(other).tokens(filter: TokenFilter(), limit: 1, after: nil)[0].0.id
        }
        let found = try await db.store.transaction(TenantScope(tenantID: ids[0])) { try $0.token(otherToken) }
        #expect(found == nil)
    }

    @Test func rowSecurityRefusesWritesIntoAnotherTenant() async throws {
        let db = try await StoreTestDatabase.make("rls_write")
        let ids = try await seed(db, names: ["alpha", "beta"])
        await #expect(throws: PostgresError.self) {
            try await db.database.pool.withConnection { connection in
                try connection.transaction { connection in
                    _ = try connection.query("SELECT set_config('role', 'caas_app', true), set_config('caas.tenant_id', $1, true)", [ids[0]])
                    _ = try connection.execute("""
                        INSERT INTO events (tenant_id, id, type, object_kind, object_id, summary) VALUES ($1, 99, 'x', 'x', 'x', 'x')
                        """, [ids[1]])
                }
            }
        }
    }

    @Test func theApplicationRoleDoesNotBypassRowSecurity() async throws {
        let db = try await StoreTestDatabase.make("rls_role")
        try await db.store.verifyRowSecurity()
        let unsafe = Store(source: db.database.pool, configuration: StoreConfiguration(applicationRole: nil))
        // The test server's login role is a superuser: the store refuses to run as it.
        await #expect(throws: StoreError.self) { try await unsafe.verifyRowSecurity() }
    }
}

