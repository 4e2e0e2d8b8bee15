import CaaSModel
import CaaSStore

/// `GET /v1/audit`: a tenant's admins read their tenant's entries; the system administrator reads
/// every tenant's (or one, with `tenant_id`). Newest first.
enum AuditRoutes {
    static let all: [APIRoute] = [
        APIRoute("GET", "/v1/audit", action: "audit.list", access: .tenantOrSystem(.administer),
                 query: ["limit", "cursor", "action", "target", "since", "until", "outcome", "token_id", "tenant_id"], handler: list),
    ]

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 1)
        let before = try page.after.map { key -> Int64 in
            guard let id = Int64(key[0]) else { throw APIError.badRequest("cursor is not one this server issued", pointer: "cursor", type: "invalid-cursor") }
            return id
        }
        if let outcome = context.request.query["outcome"], !["success", "failure"].contains(outcome),
           !(Int(outcome).map { (100...599).contains($0) } ?? false) {
            throw APIError.badRequest("outcome must be success, failure or an HTTP status", pointer: "outcome")
        }
        var filter = AuditFilter(action: try context.queryText("action"), target: try context.queryText("target"),
                                 since: try context.queryDate("since"), until: try context.queryDate("until"),
                                 outcome: context.request.query["outcome"], tokenID: try context.queryText("token_id"))
        let entries: [AuditEntry]
        if let scope = context.principal?.scope {
            if context.request.query["tenant_id"] != nil {
                // Well-formed, but the caller's role may not use it: 403, as for a route it may not call.
                throw APIError.forbidden("tenant_id is for the system administrator; a tenant reads its own audit log")
            }
            let chosen = filter
            entries = try await context.store.transaction(scope) { try $0.auditEntries(filter: chosen, limit: page.limit, before: before) }
        } else {
            filter.tenantID = try context.queryID("tenant_id", kind: .tenant)
            let chosen = filter
            entries = try await context.store.systemTransaction { try $0.auditEntries(filter: chosen, limit: page.limit, before: before) }
        }
        return .json(Page(fetched: entries, limit: page.limit, key: { [String($0.id)] }, render: Views.audit).json)
    }
}
