/// How the body of a request is delimited (RFC 9112 §6).
public enum HTTPBodyFraming: Sendable, Hashable {
    case none
    case contentLength(Int)
    case chunked
}

/// The request line and header section of a request, validated by `HTTPRequestParser`.
public struct HTTPRequestHead: Sendable {
    public var method: HTTPMethod
    /// The request-target exactly as received (origin-form, absolute-form, authority-form or `*`).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var framing: HTTPBodyFraming
    /// Whether the connection may stay open after this exchange (version default and `Connection`).
    public var keepAlive: Bool
    /// The client sent `Expect: 100-continue` (HTTP/1.1 only) and waits before sending the body.
    public var expectsContinue: Bool

    public init(method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders,
                framing: HTTPBodyFraming = .none, keepAlive: Bool = true, expectsContinue: Bool = false) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }
}

/// What the parser has recognised next in the byte stream.
public enum HTTPParserEvent: Sendable {
    case head(HTTPRequestHead)
    /// A piece of the (de-chunked) body; never empty.
    case body([UInt8])
    /// The end of the request; `trailers` holds chunked trailer fields, usually none.
    case end(trailers: HTTPHeaders)
}

/// Size limits the parser enforces while reading (each breach is an `HTTPParserError`).
public struct HTTPParserLimits: Sendable, Hashable {
    /// Longest request-target, in bytes (414).
    public var maxURILength: Int = 8 * 1024
    /// Largest header section (request line excluded), in bytes (431); also bounds trailers.
    public var maxHeaderSize: Int = 32 * 1024
    /// Most header fields (431).
    public var maxHeaderCount: Int = 100
    /// Largest body, in bytes (413). Checked against Content-Length before any body byte is read.
    public var maxBodySize: Int = 8 * 1024 * 1024
    /// Longest chunk-size line including extensions (400).
    public var maxChunkLineLength: Int = 4 * 1024

    public init(maxURILength: Int = 8 * 1024, maxHeaderSize: Int = 32 * 1024, maxHeaderCount: Int = 100,
                maxBodySize: Int = 8 * 1024 * 1024, maxChunkLineLength: Int = 4 * 1024) {
        self.maxURILength = maxURILength
        self.maxHeaderSize = maxHeaderSize
        self.maxHeaderCount = maxHeaderCount
        self.maxBodySize = maxBodySize
        self.maxChunkLineLength = maxChunkLineLength
    }
}
