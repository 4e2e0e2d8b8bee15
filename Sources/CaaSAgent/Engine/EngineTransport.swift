import CaaSHTTP

/// One request to an engine, relative to its endpoint (`/v1.41/containers/json`).
public struct EngineRequest: Sendable {
    public enum Body: Sendable {
        case none
        case json([UInt8])
        /// A tar archive (image import), read from memory.
        case tar([UInt8])
        /// A tar archive streamed from a file.
        case tarFile(path: String)
    }

    public var method: HTTPMethod
    public var path: String
    /// Already percent-encoded by `EngineRequest.query(_:)`.
    public var query: String
    public var body: Body
    /// How long the whole exchange (or, when streaming, the response head) may take.
    public var timeoutSeconds: Double

    public init(method: HTTPMethod, path: String, query: [(String, String)] = [], body: Body = .none, timeoutSeconds: Double = 30) {
        self.method = method
        self.path = path
        self.query = EngineRequest.encode(query)
        self.body = body
        self.timeoutSeconds = timeoutSeconds
    }

    /// `path?query`.
    public var target: String { query.isEmpty ? path : path + "?" + query }

    static func encode(_ items: [(String, String)]) -> String {
        items.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }
}

/// A complete response.
public struct EngineResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// A response whose body arrives over time (events, logs, pull progress).
public struct EngineStreamingResponse: Sendable {
    public var status: Int
    /// Body bytes as they arrive; ends when the engine closes the stream. Cancelling the
    /// consuming task closes the connection.
    public var body: AsyncThrowingStream<[UInt8], any Error>

    public init(status: Int, body: AsyncThrowingStream<[UInt8], any Error>) {
        self.status = status
        self.body = body
    }
}

/// How the engine client reaches one engine: HTTP/1.1 over a unix socket or TCP (+TLS).
/// Implementations throw `EngineError.unreachable` when no connection can be made.
public protocol EngineTransport: Sendable {
    func send(_ request: EngineRequest) async throws -> EngineResponse
    func stream(_ request: EngineRequest) async throws -> EngineStreamingResponse
}
