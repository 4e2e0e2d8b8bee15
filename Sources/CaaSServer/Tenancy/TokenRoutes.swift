import CaaSModel
import CaaSStore
import Foundation

/// API tokens of a tenant: its admins create (the secret is in that answer only), list, read and
/// revoke them. The system administrator creates a tenant's first token with
/// `POST /v1/tenants/{tenant_id}/tokens`.
enum TokenRoutes {
    static let createSchema = JSONSchema.object(
        properties: ["name": .name, "role": .enumeration(Role.tenantRoles.map(\.rawValue)), "expires_at": .nullable(.dateTime)],
        required: ["name", "role"])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/tokens", action: "tokens.create", access: .tenant(.administer), handler: create),
        APIRoute("GET", "/v1/tokens", action: "tokens.list", access: .tenant(.administer), query: ["limit", "cursor", "role", "include_revoked"], handler: list),
        APIRoute("GET", "/v1/tokens/{token_id}", action: "tokens.get", access: .tenant(.administer), ids: ["token_id": .token], handler: get),
        APIRoute("DELETE", "/v1/tokens/{token_id}", action: "tokens.revoke", access: .tenant(.administer), ids: ["token_id": .token], handler: revoke),
    ]

    /// Reads the body of a token creation into what the store keeps, and the secret to show once.
    static func newToken(_ context: APIContext) throws -> (NewToken, String) {
        let body = try context.body(createSchema)
        var expiry: Date?
        if let text = body["expires_at"]?.stringValue {
            expiry = Timestamp.parse(text)
            guard let expiry else {
                throw APIError.invalidBody([FieldError(pointer: "/expires_at", detail: "must be an RFC 3339 date-time")])
            }
            // Well-formed but already past: the body is valid JSON of the right shape, so 422.
            guard expiry > Date() else {
                throw APIError.unprocessable([FieldError(pointer: "/expires_at", detail: "must be in the future")])
            }
        }
        let secret = try TokenSecret.generate()
        let token = NewToken(id: Identifier.make(.token), name: body["name"]!.stringValue!, role: body["role"]!.stringValue!,
                             digestHex: TokenSecret.digestHex(secret), expiresAt: expiry, createdBy: context.principal?.tokenID)
        return (token, secret)
    }

    static func created(_ token: TokenRecord, secret: String) -> APIResponse {
        var response = APIResponse.json(Views.token(token, secret: secret), status: 201, etag: token.version)
        response.setHeader("Location", "/v1/tokens/\(token.id)")
        response.setHeader("Cache-Control", "no-store")
        response.auditTarget = token.id
        response.auditTenant = token.tenantID
        response.replayBody = Array((Views.token(token).serialized + "\n").utf8)
        return response
    }

    static func create(_ context: APIContext) async throws -> APIResponse {
        let (new, secret) = try newToken(context)
        let token = try await context.inTenant { try $0.createToken(new) }
        return created(token, secret: secret)
    }

    static func createForTenant(_ context: APIContext) async throws -> APIResponse {
        let tenantID = context.parameter("tenant_id")
        let (new, secret) = try newToken(context)
        let token = try await context.store.systemTransaction { try $0.createToken(in: tenantID, new) }
        return created(token, secret: secret)
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let role = try context.queryChoice("role", Role.tenantRoles.map(\.rawValue))
        let includeRevoked = try context.queryChoice("include_revoked", ["true", "false"]) == "true"
        let filter = TokenFilter(role: role, includeRevoked: includeRevoked)
        let rows = try await context.inTenant { try $0.tokens(filter: filter, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { Views.token($0.0) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("token_id")
        guard let token = try await context.inTenant({ try $0.token(id) }) else { throw APIError.notFound("token", id) }
        return .json(Views.token(token), etag: token.version)
    }

    static func revoke(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("token_id")
        let expected = try context.expectedVersion()
        let token = try await context.inTenant { try $0.revokeToken(id, expectedVersion: expected) }
        return .json(Views.token(token), etag: token.version)
    }
}
