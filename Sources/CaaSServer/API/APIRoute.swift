import CaaSModel

/// One operation of the API, declared once: method, path template, the audit action, who may
/// call it, which query parameters it takes, and its handler. The route table drives dispatch,
/// authorization, the audit log, the openapi.yaml consistency test and the access-matrix test.
public struct APIRoute: Sendable {
    public var method: String
    /// Path template with `{name}` parameters: `/v1/tenants/{tenant_id}`.
    public var path: String
    /// Audit action and openapi operationId stem: `tenants.create`.
    public var action: String
    public var access: Access
    public var queryParameters: Set<String>
    /// Path parameters that are ids of a kind: a value of another shape answers 404 unread.
    public var idParameters: [String: IdentifierKind]
    /// Whether this route needs `If-Match` (428 without it). Routes default to optional.
    public var requiresIfMatch: Bool
    public var handler: @Sendable (APIContext) async throws -> APIResponse

    public init(_ method: String, _ path: String, action: String, access: Access, query: Set<String> = [],
                ids: [String: IdentifierKind] = [:], requiresIfMatch: Bool = false,
                handler: @escaping @Sendable (APIContext) async throws -> APIResponse) {
        self.method = method
        self.path = path
        self.action = action
        self.access = access
        self.queryParameters = query
        self.idParameters = ids
        self.requiresIfMatch = requiresIfMatch
        self.handler = handler
        self.segments = path.split(separator: "/").map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    let segments: [Segment]

    /// Whether the call changes state (and so is audited).
    public var isMutating: Bool { ["POST", "PUT", "PATCH", "DELETE"].contains(method) }

    /// The path parameters when `path` fits the template.
    public func match(_ path: String) -> [String: String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/"), parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text): if text != part { return nil }
            case .parameter(let name):
                if part.isEmpty { return nil }
                parameters[name] = String(part)
            }
        }
        return parameters
    }

    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }
}
