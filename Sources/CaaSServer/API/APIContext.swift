import CaaSModel
import CaaSStore
import Foundation
import Logging

/// Everything a handler gets: the request, its path parameters, the caller, and the helpers that
/// implement the conventions (strict bodies, pages, If-Match).
public struct APIContext: Sendable {
    public let request: APIRequest
    public let parameters: [String: String]
    /// `nil` only on anonymous routes.
    public let principal: Principal?
    public let requestID: String
    public let plane: ControlPlane
    public let logger: Logger

    public var store: Store { plane.store }
    public var settings: TenancySettings { plane.settings }

    /// A streamed body that holds one of the caller's tenant's stream places while it runs and
    /// ends when the caller's token no longer admits it (`StreamGuard`); 429 when the tenant has
    /// every place taken.
    public func guardedStream(_ body: @escaping @Sendable (any ResponseStreamWriter) async throws -> Void) throws -> APIResponse.Body {
        try reserveStream()?.stream(body) ?? .stream(body)
    }

    /// One of the caller's tenant's stream places, for a stream whose body is made later
    /// (`nil` on anonymous routes); 429 when every place is taken.
    public func reserveStream() throws -> StreamGuard.Reservation? {
        try principal.map { try plane.streams.reserve($0) }
    }

    /// A path parameter (the route table guarantees it is there).
    public func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The caller's tenant; routes with `.tenant` access always have one.
    public func tenantScope() throws -> TenantScope {
        guard let scope = principal?.scope else {
            throw APIError.forbidden("the system administrator has no tenant: use a token of the tenant")
        }
        return scope
    }

    /// The body as JSON checked against `schema`: malformed JSON, unknown members (named) and
    /// wrong types (by JSON pointer) are 400s before anything else happens.
    public func body(_ schema: JSONSchema) throws -> JSONValue {
        if let type = request.header("content-type"), !type.lowercased().hasPrefix("application/json"),
           !type.lowercased().hasPrefix("application/merge-patch+json") {
            throw APIError.unsupportedMediaType("application/json")
        }
        let value: JSONValue
        do {
            value = Self.integralNumbersAsIntegers(try JSONParser.parse(request.body))
        } catch {
            throw APIError.malformedJSON(error)
        }
        let errors = schema.validate(value)
        if !errors.isEmpty { throw APIError.invalidBody(errors) }
        let nul = Self.nulCharacters(in: value, pointer: "")
        if !nul.isEmpty { throw APIError.invalidBody(nul) }
        return value
    }

    /// JSON has one number type: `3.0` is the integer 3 (as JSON Schema's `integer` has it), so
    /// integral numbers that fit exactly are read as integers before the schema sees them.
    static func integralNumbersAsIntegers(_ value: JSONValue) -> JSONValue {
        switch value {
        case .number(let number) where number.rounded() == number && abs(number) <= 9_007_199_254_740_992:
            return .integer(Int64(number))
        case .array(let items): return .array(items.map(integralNumbersAsIntegers))
        case .object(let members): return .object(members.mapValues(integralNumbersAsIntegers))
        default: return value
        }
    }

    /// Strings and member names holding U+0000, which no PostgreSQL text can store: each is a
    /// 400 naming it, where it would otherwise fail in the database (a 500).
    static func nulCharacters(in value: JSONValue, pointer: String) -> [FieldError] {
        switch value {
        case .string(let text):
            return text.utf8.contains(0) ? [FieldError(pointer: pointer, detail: "must not contain the NUL character (U+0000)")] : []
        case .array(let items):
            return items.enumerated().flatMap { nulCharacters(in: $0.element, pointer: pointer + "/\($0.offset)") }
        case .object(let members):
            return members.sorted { $0.key < $1.key }.flatMap { key, member -> [FieldError] in
                let escaped = key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                if key.utf8.contains(0) {
                    return [FieldError(pointer: pointer + "/" + escaped, detail: "member names must not contain the NUL character (U+0000)")]
                }
                return nulCharacters(in: member, pointer: pointer + "/" + escaped)
            }
        default:
            return []
        }
    }

    /// `limit` and `cursor` of a list.
    public func page(keyCount: Int) throws -> PageRequest {
        try PageRequest.parse(query: request.query, keyCount: keyCount)
    }

    /// The version `If-Match` names; `nil` when absent or `*`. Stale versions fail in the store
    /// (412). As RFC 9110 has it, a well-formed entity-tag that is not one of ours (a weak one, an
    /// opaque `"anything"`) matches nothing: it is 412 as well, and only a malformed header is 400.
    public func expectedVersion(required: Bool = false) throws -> Int64? {
        guard let header = request.header("if-match") else {
            if required { throw APIError.preconditionRequired() }
            return nil
        }
        switch ETag.condition(header) {
        case .any: return nil
        case .version(let version): return version
        case .none: return ETag.matchesNothing
        case .malformed:
            throw APIError.badRequest("If-Match must be * or an entity-tag such as the ETag this server sent, like \"3\"", pointer: "If-Match")
        case .several:
            throw APIError.badRequest("If-Match names several of this server's versions: send the one ETag you read", pointer: "If-Match")
        }
    }

    /// A query parameter that must be one of `allowed`.
    public func queryChoice(_ name: String, _ allowed: [String]) throws -> String? {
        guard let value = request.query[name] else { return nil }
        guard allowed.contains(value) else {
            throw APIError.badRequest("\(name) must be one of \(allowed.joined(separator: ", "))", pointer: name)
        }
        return value
    }

    public func queryDate(_ name: String) throws -> Date? {
        guard let value = request.query[name] else { return nil }
        guard let date = Timestamp.parse(value) else {
            throw APIError.badRequest("\(name) must be an RFC 3339 date-time", pointer: name)
        }
        return date
    }

    public func queryText(_ name: String, maxLength: Int = 200) throws -> String? {
        guard let value = request.query[name] else { return nil }
        guard value.count <= maxLength else { throw APIError.badRequest("\(name) is longer than \(maxLength) characters", pointer: name) }
        guard !value.utf8.contains(0) else { throw APIError.badRequest("\(name) must not contain the NUL character (U+0000)", pointer: name) }
        return value
    }

    /// Runs `body` in the caller's tenant scope.
    public func inTenant<T: Sendable>(_ body: @escaping @Sendable (TenantTransaction) throws -> T) async throws -> T {
        try await store.transaction(try tenantScope(), body)
    }
}
