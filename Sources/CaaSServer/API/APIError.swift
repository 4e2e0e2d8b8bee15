import Foundation

/// The API layer's one error type. Each carries its status and becomes an
/// `application/problem+json` answer (RFC 9457) with `type`, `title`, `status`, `detail`, `errors`.
/// Anything else thrown by a handler is a 500 without internals.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// Problem types are `https://caas.dev/problems/<slug>`; openapi.yaml lists every slug.
    public static let typeBase = "https://caas.dev/problems/"

    public var status: Int
    public var slug: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]
    public var headers: [(String, String)]
    /// Extra members of the problem object (e.g. `quota`, `limit`).
    public var extensions: [String: JSONValue]

    public init(status: Int, slug: String, title: String, detail: String, errors: [FieldError] = [],
                headers: [(String, String)] = [], extensions: [String: JSONValue] = [:]) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions
    }

    public var type: String { APIError.typeBase + slug }
    public var description: String { "\(status) \(slug): \(detail)" }

    /// The problem document.
    public var body: JSONValue {
        var members = extensions
        members["type"] = .string(type)
        members["title"] = .string(title)
        members["status"] = .integer(Int64(status))
        members["detail"] = .string(detail)
        if !errors.isEmpty {
            members["errors"] = .array(errors.map { .object(["pointer": .string($0.pointer), "detail": .string($0.detail)]) })
        }
        return .object(members)
    }

    // MARK: The problems every resource uses.

    public static func badRequest(_ detail: String, pointer: String? = nil, type: String = "bad-request") -> APIError {
        APIError(status: 400, slug: type, title: "Bad request", detail: detail,
                 errors: pointer.map { [FieldError(pointer: $0, detail: detail)] } ?? [])
    }

    public static func invalidBody(_ errors: [FieldError]) -> APIError {
        let summary = errors.prefix(3).map(\.description).joined(separator: "; ")
        return APIError(status: 400, slug: "invalid-body", title: "The request body is not valid",
                        detail: summary, errors: errors)
    }

    /// A well-formed body whose values cannot be carried out together or now (a past expiry, a
    /// node subnet no longer than its network): 422 naming each member by JSON pointer.
    public static func unprocessable(_ errors: [FieldError]) -> APIError {
        APIError(status: 422, slug: "unprocessable", title: "The request cannot be carried out",
                 detail: errors.prefix(3).map(\.description).joined(separator: "; "), errors: errors)
    }

    public static func malformedJSON(_ error: JSONSyntaxError) -> APIError {
        APIError(status: 400, slug: "malformed-json", title: "The request body is not JSON", detail: error.description)
    }

    public static func unauthorized(_ detail: String) -> APIError {
        APIError(status: 401, slug: "unauthorized", title: "Authentication required", detail: detail,
                 headers: [("WWW-Authenticate", "Bearer realm=\"caas\"")])
    }

    public static func invalidToken(_ detail: String) -> APIError {
        APIError(status: 401, slug: "unauthorized", title: "Authentication required", detail: detail,
                 headers: [("WWW-Authenticate", "Bearer realm=\"caas\", error=\"invalid_token\"")])
    }

    public static func forbidden(_ detail: String, type: String = "forbidden") -> APIError {
        APIError(status: 403, slug: type, title: "Forbidden", detail: detail)
    }

    public static func notFound(_ kind: String, _ id: String) -> APIError {
        APIError(status: 404, slug: "not-found", title: "Not found", detail: "no \(kind) \(echo(id))")
    }

    public static func routeNotFound(_ path: String) -> APIError {
        APIError(status: 404, slug: "not-found", title: "Not found", detail: "no route for \(echo(path))")
    }

    /// Client input repeated in a problem, at most `limit` characters (a problem never echoes
    /// an unbounded path or id back).
    static func echo(_ text: String, limit: Int = 200) -> String {
        text.count <= limit ? text : text.prefix(limit) + "… (\(text.utf8.count) bytes)"
    }

    public static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(status: 405, slug: "method-not-allowed", title: "Method not allowed",
                 detail: "allowed: \(allowed.joined(separator: ", "))", headers: [("Allow", allowed.joined(separator: ", "))])
    }

    public static func conflict(_ detail: String, type: String = "conflict") -> APIError {
        APIError(status: 409, slug: type, title: "Conflict", detail: detail)
    }

    public static func quotaExceeded(quota: String, limit: Int, used: Int) -> APIError {
        APIError(status: 409, slug: "quota-exceeded", title: "Quota exceeded",
                 detail: "the tenant's \(quota) quota is \(limit) and \(used) are in use",
                 extensions: ["quota": .string(quota), "limit": .integer(Int64(limit)), "used": .integer(Int64(used))])
    }

    public static func preconditionFailed(current: Int64) -> APIError {
        APIError(status: 412, slug: "precondition-failed", title: "Precondition failed",
                 detail: "If-Match does not match the current version \(current): read the object again",
                 headers: [("ETag", ETag.format(current))])
    }

    public static func preconditionRequired() -> APIError {
        APIError(status: 428, slug: "precondition-required", title: "Precondition required",
                 detail: "this request needs an If-Match header with the object's ETag")
    }

    public static func unsupportedMediaType(_ expected: String) -> APIError {
        APIError(status: 415, slug: "unsupported-media-type", title: "Unsupported media type", detail: "send \(expected)")
    }

    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, slug: "payload-too-large", title: "Payload too large", detail: "the body is larger than \(limit) bytes")
    }

    public static func idempotencyMismatch() -> APIError {
        APIError(status: 422, slug: "idempotency-key-reused", title: "Idempotency key reused",
                 detail: "this Idempotency-Key was used with another request (method, path or body differ)")
    }

    public static func idempotencyInProgress() -> APIError {
        APIError(status: 409, slug: "idempotency-in-progress", title: "Request in progress",
                 detail: "a request with this Idempotency-Key is still running; retry later",
                 headers: [("Retry-After", "1")])
    }

    public static func tooManyRequests(retryAfter: Int, detail: String) -> APIError {
        APIError(status: 429, slug: "rate-limited", title: "Too many requests", detail: detail,
                 headers: [("Retry-After", String(retryAfter))])
    }

    public static func internalError(requestID: String) -> APIError {
        APIError(status: 500, slug: "internal", title: "Internal server error",
                 detail: "the server failed; quote request id \(requestID) when reporting it")
    }

    public static func unavailable(_ detail: String) -> APIError {
        APIError(status: 503, slug: "unavailable", title: "Service unavailable", detail: detail, headers: [("Retry-After", "1")])
    }
}

/// ETags are the object's version as a strong validator: `"7"`.
public enum ETag {
    public static func format(_ version: Int64) -> String { "\"\(version)\"" }

    /// What an `If-Match` asks for (RFC 9110 §13.1.1: `*` or a list of entity-tags, compared strongly).
    public enum Condition: Equatable {
        case any
        /// Exactly one of our versions.
        case version(Int64)
        /// Well-formed, but no tag can ever match ours (weak or opaque tags): 412.
        case none
        case several
        case malformed
    }

    /// A version no object has: the store answers 412 for it as for any stale one.
    public static let matchesNothing: Int64 = -1

    public static func condition(_ header: String) -> Condition {
        let text = header.trimmingCharacters(in: .whitespaces)
        if text == "*" { return .any }
        var versions: Set<Int64> = []
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            var weak = false
            if rest.hasPrefix("W/") { weak = true; rest = rest.dropFirst(2) }
            guard rest.first == "\"" else { return .malformed }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: "\"") else { return .malformed }
            let opaque = rest[..<close]
            // etagc: %x21 / %x23-7E / obs-text
            guard opaque.unicodeScalars.allSatisfy({ $0.value == 0x21 || (0x23...0x7E).contains($0.value) || $0.value >= 0x80 }) else { return .malformed }
            if !weak, let version = Int64(opaque), version >= 0, String(version) == opaque { versions.insert(version) }
            rest = rest[rest.index(after: close)...].drop { $0 == " " || $0 == "\t" }
            if rest.isEmpty { break }
            guard rest.first == "," else { return .malformed }
            rest = rest.dropFirst()
        }
        switch versions.count {
        case 0: return .none
        case 1: return .version(versions.first!)
        default: return .several
        }
    }
}
