import CaaSModel
import CaaSStore

/// A tenant's host policy (`HostPolicy`): what its containers may ask of the nodes. The system
/// administrator reads and replaces it; a tenant's admins read their own tenant's. PUT replaces
/// the whole policy: a member left out goes back to its default.
enum PolicyRoutes {
    static let paths = JSONSchema.array(.string(maxLength: 1024), maxItems: 100)
    static let schema = JSONSchema.object(properties: [
        "bind_prefixes": paths,
        "host_network": .boolean,
        "privileged": .boolean,
        "capabilities": .array(.string(maxLength: 64), maxItems: 64),
        "device_prefixes": paths,
        "host_pid": .boolean,
        "host_ipc": .boolean,
        "external_volumes": .boolean,
    ])

    static let all: [APIRoute] = [
        APIRoute("GET", "/v1/tenants/{tenant_id}/policy", action: "tenants.policy.get", access: .tenantOrSystem(.administer),
                 ids: ["tenant_id": .tenant], handler: get),
        APIRoute("PUT", "/v1/tenants/{tenant_id}/policy", action: "tenants.policy.replace", access: .system,
                 ids: ["tenant_id": .tenant], handler: replace),
    ]

    static func view(_ policy: HostPolicy) -> JSONValue {
        .object([
            "bind_prefixes": .array(policy.bindPrefixes.map(JSONValue.string)),
            "host_network": .bool(policy.hostNetwork),
            "privileged": .bool(policy.privileged),
            "capabilities": .array(policy.capabilities.map(JSONValue.string)),
            "device_prefixes": .array(policy.devicePrefixes.map(JSONValue.string)),
            "host_pid": .bool(policy.hostPID),
            "host_ipc": .bool(policy.hostIPC),
            "external_volumes": .bool(policy.externalVolumes),
        ])
    }

    /// The body as a policy (schema-checked already), or a 422 naming every bad value.
    static func policy(_ body: JSONValue) throws -> HostPolicy {
        func strings(_ key: String) -> [String] {
            if case .array(let items)? = body[key] { return items.compactMap(\.stringValue) }
            return []
        }
        let standard = HostPolicy.standard
        let policy = HostPolicy(
            bindPrefixes: strings("bind_prefixes"),
            hostNetwork: body["host_network"]?.boolValue ?? standard.hostNetwork,
            privileged: body["privileged"]?.boolValue ?? standard.privileged,
            capabilities: strings("capabilities"),
            devicePrefixes: strings("device_prefixes"),
            hostPID: body["host_pid"]?.boolValue ?? standard.hostPID,
            hostIPC: body["host_ipc"]?.boolValue ?? standard.hostIPC,
            externalVolumes: body["external_volumes"]?.boolValue ?? standard.externalVolumes)
        let problems = policy.problems
        if !problems.isEmpty {
            let errors = problems.map { FieldError(pointer: $0.field, detail: $0.message) }
            throw APIError(status: 422, slug: "unprocessable", title: "The request cannot be carried out",
                           detail: errors.prefix(3).map(\.description).joined(separator: "; "), errors: errors)
        }
        return policy.canonical
    }

    static func respond(_ tenant: TenantRecord) -> APIResponse {
        var response = APIResponse.json(view(tenant.hostPolicy), etag: tenant.version)
        response.auditTarget = tenant.id
        response.auditTenant = tenant.id
        return response
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        let tenant: TenantRecord?
        if let scope = context.principal?.scope {
            // A tenant's admins read their own tenant's policy; any other tenant does not exist.
            tenant = scope.tenantID == id ? try await context.store.transaction(scope) { try $0.tenant() } : nil
        } else {
            tenant = try await context.store.systemTransaction { try $0.tenant(id) }
        }
        guard let tenant else { throw APIError.notFound("tenant", id) }
        return respond(tenant)
    }

    static func replace(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("tenant_id")
        let policy = try policy(try context.body(schema))
        let expected = try context.expectedVersion()
        let tenant = try await context.store.systemTransaction { try $0.setHostPolicy(id, expectedVersion: expected, policy: policy) }
        return respond(tenant)
    }
}
