import CaaSHTTP
import Foundation
import Synchronization

/// Where the client talks to and as whom.
public struct CaaSClientConfiguration: Sendable {
    /// `https://host:port` or `http://127.0.0.1:8080` (a path after the authority is a prefix
    /// put before `/v1`, for servers behind a path-routing proxy).
    public var server: String
    /// The API token (`caas_…`), sent as `Authorization: Bearer`.
    public var token: String?
    /// PEM file with the CA that signed the server's certificate (system roots when `nil`).
    public var caFile: String?
    /// Client certificate and key for servers that want mutual TLS.
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    /// Each request's limit, from sending to the end of the answer (streams: until the head).
    public var timeout: Duration
    public var userAgent: String
    /// Base of the `Idempotency-Key`s of this client's POSTs: one per invocation of caasctl, so a
    /// POST that is retried (by the client, or by a script re-running the same invocation with
    /// `--idempotency-key`) is executed once.
    public var idempotencyBase: String

    public init(server: String, token: String? = nil, caFile: String? = nil, clientCertificateFile: String? = nil,
                clientKeyFile: String? = nil, timeout: Duration = .seconds(30), userAgent: String = "caasctl",
                idempotencyBase: String = CaaSClientConfiguration.randomKey()) {
        self.server = server
        self.token = token
        self.caFile = caFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.timeout = timeout
        self.userAgent = userAgent
        self.idempotencyBase = idempotencyBase
    }

    /// 128 random bits as 32 hex digits.
    public static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let text = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
    }
}

/// An answer of the API that was not an error.
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: HTTPClientHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPClientHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as JSON (`null` when empty).
    public func json() throws(CaaSClientError) -> JSON {
        if body.isEmpty { return .null }
        guard let value = JSON.parse(body) else {
            throw .invalidResponse("the server's \(status) answer is not JSON: \(String(decoding: body.prefix(120), as: UTF8.self))")
        }
        return value
    }

    /// The `ETag`, which `If-Match` sends back on a write.
    public var etag: String? { headers["ETag"] }
}

/// The typed client of the caas public API (`/v1`): requests with the conventions every route
/// shares — bearer token, `Idempotency-Key` on POST, `If-Match` on writes, problem+json errors,
/// cursor pagination — over CaaSHTTP's client (TLS with a custom CA).
public final class CaaSClient: Sendable {
    public let configuration: CaaSClientConfiguration
    let http: HTTPClient
    let endpoint: HTTPClientEndpoint
    let pathPrefix: String
    private let postCount = Mutex(0)

    public init(_ configuration: CaaSClientConfiguration) throws(CaaSClientError) {
        self.configuration = configuration
        let server = configuration.server.hasSuffix("/") ? String(configuration.server.dropLast()) : configuration.server
        guard let request = try? HTTPClientRequest(url: server) else {
            throw .configuration("the server \(configuration.server) is not a URL like https://caas.example.com:8443")
        }
        endpoint = request.endpoint
        let target = request.target
        pathPrefix = target == "/" ? "" : (target.hasSuffix("/") ? String(target.dropLast()) : target)
        if let caFile = configuration.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw .configuration("the CA file \(caFile) cannot be read")
        }
        let tls = TLSConfiguration(certificateChainFile: configuration.clientCertificateFile,
                                   privateKeyFile: configuration.clientKeyFile,
                                   trustedCAFile: configuration.caFile)
        do {
            http = try HTTPClient(configuration: HTTPClientConfiguration(tls: tls, connectTimeout: .seconds(10),
                                                                          maxIdleConnectionsPerEndpoint: 4,
                                                                          userAgent: configuration.userAgent))
        } catch {
            throw .configuration("TLS settings: \(error)")
        }
    }

    deinit { http.shutdown() }

    /// The server as people write it, for messages.
    public var serverDescription: String { configuration.server }

    /// The next `Idempotency-Key`: the invocation's base and a sequence number, so each POST of
    /// one invocation has its own key and a retried POST reuses its own.
    public func nextIdempotencyKey() -> String {
        let number = postCount.withLock { count -> Int in
            count += 1
            return count
        }
        return "\(configuration.idempotencyBase)-\(number)"
    }

    // MARK: Requests

    /// Sends one request and returns the answer, or throws `CaaSClientError` (a problem for every
    /// status ≥ 400). POSTs carry an `Idempotency-Key`; answers 429 and 503 (and 409 "request in
    /// progress" of an idempotent POST) are retried after `Retry-After`, a few times.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSON? = nil,
                     ifMatch: String? = nil, idempotencyKey: String? = nil, timeout: Duration? = nil) async throws -> APIResponse {
        var headers = baseHeaders()
        if body != nil { headers.add("Content-Type", "application/json") }
        if let ifMatch { headers.add("If-Match", ifMatch) }
        if method == .post { headers.add("Idempotency-Key", idempotencyKey ?? nextIdempotencyKey()) }
        let bytes = body.map { Array($0.compact().utf8) }
        let request = HTTPClientRequest(method: method, endpoint: endpoint, target: target(path, query),
                                        headers: headers, body: bytes.map { .bytes($0) } ?? .none)
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: timeout ?? configuration.timeout)
            } catch let error as HTTPClientError {
                // The request may not have reached the server, and every POST has its key: safe to send again.
                if attempt < 3, Self.isRetryable(error) {
                    try await Task.sleep(for: .milliseconds(200 * attempt))
                    continue
                }
                throw translate(error)
            }
            if response.status >= 400 {
                let problem = ProblemDetails(status: response.status, body: response.body, requestID: response.headers["X-Request-Id"],
                                             retryAfter: response.headers["Retry-After"].flatMap { Int($0) })
                let retryable = response.status == 429 || response.status == 503
                    || (response.status == 409 && problem.slug == "idempotency-in-progress")
                if retryable, attempt < 4, let wait = problem.retryAfter, wait <= 10 {
                    try await Task.sleep(for: .seconds(max(wait, 1)))
                    continue
                }
                throw CaaSClientError.problem(problem)
            }
            return APIResponse(status: response.status, headers: response.headers, body: response.body)
        }
    }

    /// Sends a request whose answer streams (server-sent events, followed logs): returns once the
    /// head arrived. Errors (status ≥ 400) are read whole and thrown as problems.
    public func stream(_ path: String, query: [(String, String)] = [], accept: String) async throws -> HTTPClientStreamingResponse {
        var headers = baseHeaders()
        headers.set("Accept", accept)
        let request = HTTPClientRequest(method: .get, endpoint: endpoint, target: target(path, query), headers: headers)
        let response: HTTPClientStreamingResponse
        do {
            response = try await http.stream(request, timeout: configuration.timeout)
        } catch let error as HTTPClientError {
            throw translate(error)
        }
        if response.status >= 400 {
            var body: [UInt8] = []
            for try await chunk in response.body where body.count < 65536 { body += chunk }
            throw CaaSClientError.problem(ProblemDetails(status: response.status, body: body, requestID: response.headers["X-Request-Id"]))
        }
        return response
    }

    /// GET of one object as JSON.
    public func get(_ path: String, query: [(String, String)] = []) async throws -> JSON {
        try await send(.get, path, query: query).json()
    }

    // MARK: Helpers

    private func baseHeaders() -> HTTPClientHeaders {
        var headers: HTTPClientHeaders = ["Accept": "application/json"]
        if let token = configuration.token, !token.isEmpty { headers.add("Authorization", "Bearer \(token)") }
        return headers
    }

    func target(_ path: String, _ query: [(String, String)]) -> String {
        var target = pathPrefix + path
        if !query.isEmpty {
            target += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        return target
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    public static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    static func isRetryable(_ error: HTTPClientError) -> Bool {
        switch error {
        case .connectionClosed, .io: true
        default: false
        }
    }

    /// A transport failure in words a person can act on.
    func translate(_ error: HTTPClientError) -> CaaSClientError {
        let server = configuration.server
        switch error {
        case .hostNotFound(let host): return .unreachable(server: server, detail: "the host name \(host) does not resolve")
        case .connectionRefused: return .unreachable(server: server, detail: "connection refused: is caas-server running and listening there?")
        case .connectTimeout: return .unreachable(server: server, detail: "no answer to the connection attempt (firewall, or wrong address?)")
        case .connectFailed(let text): return .unreachable(server: server, detail: text)
        case .tls(let tls): return .tls(server: server, detail: tls.description)
        case .timeout: return .timeout(server: server)
        case .invalidURL(let text): return .configuration(text)
        case .invalidRequest(let text): return .configuration(text)
        case .invalidResponse(let text) where endpoint.usesTLS == false:
            return .transport(server: server, detail: "\(text) (does the server want https?)")
        default: return .transport(server: server, detail: error.description)
        }
    }
}
