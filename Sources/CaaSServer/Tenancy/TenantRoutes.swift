import CaaSModel
import CaaSStore
import Foundation

/// Tenants: the system administrator creates, lists, reads, changes (display name, quotas),
/// suspends, resumes and deletes them; a tenant's tokens read their own tenant at `/v1/tenant`.
enum TenantRoutes {
    static let quotaSchema = JSONSchema.object(properties: Dictionary(uniqueKeysWithValues: QuotaKind.allCases.map {
        ($0.rawValue, JSONSchema.integer(minimum: 0, maximum: 1_000_000))
    }))

    static let createSchema = JSONSchema.object(
        properties: ["name": .name, "display_name": .string(maxLength: 200), "quotas": quotaSchema],
        required: ["name"])

    /// What PATCH may change: a merge patch of `{display_name, quotas}` (`quotas` are the
    /// overrides; a member set to null goes back to the server's default).
    static let patchSchema = JSONSchema.object(properties: [
        "display_name": .string(maxLength: 200),
        "quotas": .nullable(.object(properties: Dictionary(uniqueKeysWithValues: QuotaKind.allCases.map {
            ($0.rawValue, JSONSchema.nullable(.integer(minimum: 0, maximum: 1_000_000)))
        }))),
    ])

    static let suspendSchema = JSONSchema.object(properties: ["reason": .string(maxLength: 500)], required: ["reason"])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/tenants", action: "tenants.create", access: .system, handler: create),
        APIRoute("GET", "/v1/tenants", action: "tenants.list", access: .system, query: ["limit", "cursor", "status", "name_prefix"], handler: list),
        APIRoute("GET", "/v1/tenants/{tenant_id}", action: "tenants.get", access: .system, ids: ["tenant_id": .tenant], handler: get),
        APIRoute("PATCH", "/v1/tenants/{tenant_id}", action: "tenants.update", access: .system, ids: ["tenant_id": .tenant], handler: update),
        APIRoute("DELETE", "/v1/tenants/{tenant_id}", action: "tenants.delete", access: .system, ids: ["tenant_id": .tenant], handler: delete),
        APIRoute("POST", "/v1/tenants/{tenant_id}/suspend", action: "tenants.suspend", access: .system, ids: ["tenant_id": .tenant], handler: suspend),
        APIRoute("POST", "/v1/tenants/{tenant_id}/resume", action: "tenants.resume", access: .system, ids: ["tenant_id": .tenant], handler: resume),
        APIRoute("POST", "/v1/tenants/{tenant_id}/tokens", action: "tenants.tokens.create", access: .system, ids: ["tenant_id": .tenant], handler: TokenRoutes.createForTenant),
        APIRoute("GET", "/v1/tenant", action: "tenant.get", access: .tenant(.read), handler: own),
    ]

    static func respond(_ tenant: TenantRecord, _ context: APIContext, status: Int = 200) -> APIResponse {
        var response = APIResponse.json(Views.tenant(tenant, defaults: context.settings.quotaDefaults), status: status, etag: tenant.version)
        response.auditTarget = tenant.id
        response.auditTenant = tenant.id
        return response
    }

    static func create(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(createSchema)
        let name = body["name"]!.stringValue!
        let displayName = body["display_name"]?.stringValue ?? name
        let quotas = (body["quotas"]?.objectValue ?? [:]).compactMapValues { $0.integerValue.map(Int.init) }
        let id = Identifier.make(.tenant)
        let tenant = try await context.store.systemTransaction {
            try $0.createTenant(id: id, name: name, displayName: displayName, quotas: quotas)
        }
        var response = respond(tenant, context, status: 201)
        response.setHeader("Location", "/v1/tenants/\(tenant.id)")
        return response
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let status = try context.queryChoice("status", ["active", "suspended"]).flatMap(TenantStatus.init(rawValue:))
        let filter = TenantFilter(status: status, namePrefix: try context.queryText("name_prefix", maxLength: 63))
        let rows = try await context.store.systemTransaction { try $0.tenants(filter: filter, limit: page.limit, after: page.after) }
        let defaults = context.settings.quotaDefaults
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { Views.tenant($0.0, defaults: defaults) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        guard let tenant = try await context.store.systemTransaction({ try $0.tenant(id) }) else {
            throw APIError.notFound("tenant", id)
        }
        return respond(tenant, context)
    }

    static func update(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        let patch = try context.body(patchSchema)
        let expected = try context.expectedVersion()
        let tenant = try await context.store.systemTransaction { tx -> TenantRecord in
            guard let current = try tx.tenant(id) else { throw StoreError.notFound(kind: "tenant", id: id) }
            if let expected, expected != current.version { throw StoreError.versionMismatch(current: current.version) }
            let document = JSONValue.object([
                "display_name": .string(current.displayName),
                "quotas": .object(current.quotas.mapValues { .integer(Int64($0)) }),
            ])
            let merged = MergePatch.apply(patch, to: document)
            let quotas = (merged["quotas"]?.objectValue ?? [:]).compactMapValues { $0.integerValue.map(Int.init) }
            let changes = TenantChanges(displayName: merged["display_name"]?.stringValue ?? current.displayName, quotas: quotas)
            return try tx.updateTenant(id, expectedVersion: current.version, changes: changes)
        }
        return respond(tenant, context)
    }

    static func delete(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        let expected = try context.expectedVersion()
        try await context.store.systemTransaction { try $0.deleteTenant(id, expectedVersion: expected) }
        var response = APIResponse.noContent()
        response.auditTenant = id
        return response
    }

    static func suspend(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        let reason = try context.body(suspendSchema)["reason"]!.stringValue!
        let expected = try context.expectedVersion()
        let tenant = try await context.store.systemTransaction {
            try $0.setTenantStatus(id, expectedVersion: expected, status: .suspended, reason: reason)
        }
        return respond(tenant, context)
    }

    static func resume(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        if !context.request.body.isEmpty { _ = try context.body(.object(properties: [:])) }
        let expected = try context.expectedVersion()
        let tenant = try await context.store.systemTransaction {
            try $0.setTenantStatus(id, expectedVersion: expected, status: .active, reason: nil)
        }
        return respond(tenant, context)
    }

    static func own(_ context: APIContext) async throws -> APIResponse {
        let (tenant, usage) = try await context.inTenant { tx in (try tx.tenant(), try tx.quotaUsage()) }
        var response = respond(tenant, context)
        if case .object(var members) = Views.tenant(tenant, defaults: context.settings.quotaDefaults) {
            members["quota_usage"] = .object(Dictionary(uniqueKeysWithValues: usage.map { ($0.key.rawValue, JSONValue.integer(Int64($0.value))) }))
            response.body = .bytes(Array((JSONValue.object(members).serialized + "\n").utf8))
        }
        return response
    }
}
