import Foundation

/// A request as the API layer sees it: decoded query, headers by lower-cased name, whole body.
/// The HTTP adapter (`ControlPlane+HTTP.swift`) makes one from a CaaSHTTP request; tests may
/// make one directly.
public struct APIRequest: Sendable {
    public var method: String
    /// Percent-decoded path segments joined with `/` (`/v1/tenants/ten_…`).
    public var path: String
    public var query: [String: String]
    /// Header values by lower-cased name; repeated headers are joined with `, `.
    public var headers: [String: String]
    public var body: [UInt8]
    /// The client's address without the port (`127.0.0.1`), `local` in-process.
    public var clientAddress: String
    /// Who the caller is, when that was settled before the body was read (large bodies are read
    /// only after authentication); the pipeline then does not authenticate again.
    var preauthentication: Result<Principal, any Error>?

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
                body: [UInt8] = [], clientAddress: String = "local") {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, b in a + ", " + b })
        self.body = body
        self.clientAddress = clientAddress
    }

    /// Builds a request from a raw target (`/v1/events?after=3`).
    public init(method: String, target: String, headers: [String: String] = [:], body: [UInt8] = [],
                clientAddress: String = "local") throws(APIError) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = String(parts[0])
        guard let path = rawPath.removingPercentEncoding else { throw APIError.badRequest("the path is not valid percent-encoding") }
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let rawKey = kv[0].replacingOccurrences(of: "+", with: " ")
                let rawValue = kv.count > 1 ? kv[1].replacingOccurrences(of: "+", with: " ") : ""
                guard let key = rawKey.removingPercentEncoding, let value = rawValue.removingPercentEncoding else {
                    throw APIError.badRequest("the query is not valid percent-encoding")
                }
                guard query[key] == nil else { throw APIError.badRequest("query parameter \(key) is given twice", pointer: key) }
                query[key] = value
            }
        }
        self.init(method: method, path: path, query: query, headers: headers, body: body, clientAddress: clientAddress)
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Something a streaming answer writes to (the socket, or a test's buffer).
public protocol ResponseStreamWriter: Sendable {
    func write(_ bytes: [UInt8]) async throws
}

public struct APIResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Written piece by piece until the closure returns (server-sent events).
        case stream(@Sendable (any ResponseStreamWriter) async throws -> Void)
    }

    public var status: Int
    /// Header pairs in order; names as they go on the wire.
    public var headers: [(String, String)]
    public var body: Body
    /// For the audit log: the object acted on, and the tenant it belongs to when not the caller's.
    public var auditTarget: String?
    public var auditTenant: String?
    /// What an idempotent replay answers instead of `body` (e.g. without a one-time secret).
    public var replayBody: [UInt8]?

    public init(status: Int, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ value: JSONValue, status: Int = 200, etag: Int64? = nil) -> APIResponse {
        var headers = [("Content-Type", "application/json")]
        if let etag { headers.append(("ETag", ETag.format(etag))) }
        return APIResponse(status: status, headers: headers, body: .bytes(Array((value.serialized + "\n").utf8)))
    }

    public static func noContent() -> APIResponse { APIResponse(status: 204) }

    public static func problem(_ error: APIError) -> APIResponse {
        var headers = [("Content-Type", "application/problem+json")]
        headers += error.headers
        return APIResponse(status: error.status, headers: headers, body: .bytes(Array((error.body.serialized + "\n").utf8)))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public mutating func setHeader(_ name: String, _ value: String) {
        headers.removeAll { $0.0.lowercased() == name.lowercased() }
        headers.append((name, value))
    }

    /// The body bytes (empty for streams).
    public var bodyBytes: [UInt8] {
        if case .bytes(let bytes) = body { return bytes }
        return []
    }
}
