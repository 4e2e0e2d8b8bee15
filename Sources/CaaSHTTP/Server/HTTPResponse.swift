/// A response: status, headers and a body that is either bytes or a stream.
///
/// The server adds `Date`, `Content-Length` (bytes bodies) or `Transfer-Encoding: chunked`
/// (streams on HTTP/1.1), and `Connection` as needed; a `Content-Length` or `Transfer-Encoding`
/// set here is replaced, except a `Content-Length` on a stream, which then is sent unchunked.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: HTTPResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: HTTPStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        if !headers.contains("Content-Type") { headers.add(name: "Content-Type", value: "text/plain; charset=utf-8") }
        return HTTPResponse(status: status, headers: headers, body: .init(string: text))
    }

    /// A streamed response; `write` produces the body (chunked on HTTP/1.1).
    public static func stream(status: HTTPStatus = .ok, headers: HTTPHeaders = [:],
                              _ write: @escaping @Sendable (HTTPResponseBodyWriter) async throws -> Void) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .stream(write))
    }

    /// Runs a streamed body into memory (for tests through the router, without a socket).
    public func collectBody() async throws -> [UInt8] {
        switch body.storage {
        case .bytes(let bytes):
            return bytes
        case .stream(let producer):
            let collector = HTTPResponseBodyWriter.Collector()
            try await producer(HTTPResponseBodyWriter(sink: .collector(collector)))
            return collector.bytes
        }
    }
}

/// The body of a response.
public struct HTTPResponseBody: Sendable {
    enum Storage: Sendable {
        case bytes([UInt8])
        case stream(@Sendable (HTTPResponseBodyWriter) async throws -> Void)
    }

    let storage: Storage

    public static let empty = HTTPResponseBody(bytes: [])

    public init(bytes: [UInt8]) { storage = .bytes(bytes) }
    public init(string: String) { storage = .bytes(Array(string.utf8)) }

    /// A body produced by `write`, which may run as long as the client stays (server-sent events,
    /// log following). Its task is cancelled when the client goes away, and each write then throws.
    public static func stream(_ write: @escaping @Sendable (HTTPResponseBodyWriter) async throws -> Void) -> HTTPResponseBody {
        HTTPResponseBody(storage: .stream(write))
    }

    init(storage: Storage) { self.storage = storage }

    /// The bytes of a non-streamed body; nil for a stream.
    public var bytes: [UInt8]? {
        if case .bytes(let bytes) = storage { return bytes }
        return nil
    }
}

/// Errors the server reports to handlers.
public enum HTTPServerError: Error, Sendable, Hashable {
    /// The client closed the connection (or it failed) before the exchange ended.
    case clientDisconnected
    /// The response was already sent when the handler tried to use the request body.
    case responseAlreadySent
    /// The body stream was read a second time.
    case bodyAlreadyConsumed
    /// The server could not bind a listening address.
    case bindFailed(address: String, errno: Int32)
    /// The server is already running or was shut down.
    case invalidState(String)
}
