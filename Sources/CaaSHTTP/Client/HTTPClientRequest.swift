/// A request for `HTTPClient`: where, what, and the body.
public struct HTTPClientRequest: Sendable {
    public enum Body: Sendable {
        case none
        /// Sent with `Content-Length`; replayable, so an idempotent request may be retried.
        case bytes([UInt8])
        /// Sent with `Transfer-Encoding: chunked` as the stream yields; never retried.
        case stream(AsyncThrowingStream<[UInt8], Error>)
    }

    public var method: HTTPMethod
    public var endpoint: HTTPClientEndpoint
    /// Origin-form request target: path and query, such as "/containers/json?all=1".
    public var target: String
    public var headers: HTTPClientHeaders
    public var body: Body
    /// Checked on the connection's peer certificate (nil over plain HTTP) before a byte of the
    /// request is written, on new and pooled connections alike: a refusal reason throws
    /// `HTTPClientError.peerRefused` and closes the connection. For "is this really who I
    /// meant?" beyond the chain and name checks of TLS.
    public var peerCheck: (@Sendable (PeerCertificate?) -> String?)?

    public init(method: HTTPMethod = .get, endpoint: HTTPClientEndpoint, target: String = "/",
                headers: HTTPClientHeaders = [:], body: Body = .none) {
        self.method = method
        self.endpoint = endpoint
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// A request from a full URL: `http://127.0.0.1:8080/v1/apps?limit=10`, `https://[::1]/x`,
    /// `http+unix://%2Fvar%2Frun%2Fdocker.sock/containers/json`.
    public init(method: HTTPMethod = .get, url: String, headers: HTTPClientHeaders = [:], body: Body = .none) throws {
        let (endpoint, target) = try HTTPClientEndpoint.parse(url: url)
        self.init(method: method, endpoint: endpoint, target: target, headers: headers, body: body)
    }

    /// Methods RFC 9110 calls idempotent: safe to send again when a pooled connection broke.
    var isIdempotent: Bool {
        [HTTPMethod.get, .head, .put, .delete, .options].contains(method) || method.rawValue == "TRACE"
    }

    var isReplayable: Bool {
        if case .stream = body { return false }
        return true
    }
}

/// A response with its body read into memory.
public struct HTTPClientResponse: Sendable {
    public var head: HTTPClientResponseHead
    public var body: [UInt8]
    /// Trailer fields of a chunked body, if any were sent.
    public var trailers: HTTPClientHeaders?
    /// The server's certificate, for https endpoints.
    public var peerCertificate: PeerCertificate?

    public var status: Int { head.status }
    public var headers: HTTPClientHeaders { head.headers }
    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A response whose body arrives as it is read. Stop iterating or cancel the task to close the
/// connection.
public struct HTTPClientStreamingResponse: Sendable {
    public var head: HTTPClientResponseHead
    public var body: AsyncThrowingStream<[UInt8], Error>
    public var peerCertificate: PeerCertificate?

    public var status: Int { head.status }
    public var headers: HTTPClientHeaders { head.headers }
}

/// Serialises request heads and chunked body framing.
enum ClientRequestEncoder {
    enum Framing { case none, length(Int), chunked }

    static func head(_ request: HTTPClientRequest, framing: Framing, userAgent: String?) throws(HTTPClientError) -> [UInt8] {
        let method = request.method.rawValue
        guard !method.isEmpty, method.utf8.allSatisfy(ClientResponseParser.isTokenCharacter) else {
            throw .invalidRequest("method \(method) is not a token")
        }
        let target = request.target
        guard target.hasPrefix("/") || target == "*",
              target.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .invalidRequest("target \(target) must start with / and hold no spaces or control characters")
        }
        var text = "\(method) \(target) HTTP/1.1\r\n"
        if !request.headers.contains("Host") { text += "Host: \(request.endpoint.hostHeader)\r\n" }
        if let userAgent, !request.headers.contains("User-Agent") { text += "User-Agent: \(userAgent)\r\n" }
        for field in request.headers {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(ClientResponseParser.isTokenCharacter) else {
                throw .invalidRequest("header name \(field.name) is not a token")
            }
            guard field.value.utf8.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
                throw .invalidRequest("header \(field.name) holds control characters")
            }
            // Framing is ours to decide.
            if field.name.caseInsensitiveEquals("Content-Length") || field.name.caseInsensitiveEquals("Transfer-Encoding") {
                continue
            }
            text += "\(field.name): \(field.value)\r\n"
        }
        switch framing {
        case .none: break
        case .length(let length): text += "Content-Length: \(length)\r\n"
        case .chunked: text += "Transfer-Encoding: chunked\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10]
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
