/// Why a request could not be parsed, and the status the server answers with.
///
/// Every parser error ends the connection: after a framing error the byte stream cannot be trusted.
public struct HTTPParserError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case invalidRequestLine = "invalid request line"
        case invalidMethod = "invalid method"
        case invalidTarget = "invalid request target"
        case invalidVersion = "invalid HTTP version"
        case unsupportedVersion = "unsupported HTTP version"
        case uriTooLong = "request target too long"
        case headerSectionTooLarge = "header section too large"
        case tooManyHeaders = "too many header fields"
        case invalidHeaderName = "invalid header field name"
        case whitespaceBeforeColon = "whitespace between header name and colon"
        case obsoleteLineFolding = "obsolete line folding"
        case invalidHeaderValue = "invalid header field value"
        case bareCR = "bare CR"
        case bareLF = "bare LF"
        case contentLengthWithTransferEncoding = "both Content-Length and Transfer-Encoding"
        case invalidContentLength = "invalid Content-Length"
        case conflictingContentLength = "conflicting Content-Length values"
        case invalidTransferEncoding = "Transfer-Encoding must end with chunked"
        case unsupportedTransferCoding = "unsupported transfer coding"
        case transferEncodingInHTTP10 = "Transfer-Encoding in an HTTP/1.0 request"
        case invalidChunkSize = "invalid chunk size"
        case chunkSizeOverflow = "chunk size overflow"
        case invalidChunkExtension = "invalid chunk extension"
        case invalidChunkTerminator = "chunk data not followed by CRLF"
        case chunkLineTooLong = "chunk size line too long"
        case bodyTooLarge = "body too large"
        case missingHost = "missing Host header"
        case multipleHost = "more than one Host header"
        case unsupportedExpectation = "unsupported expectation"
    }

    public let reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    /// The status a server answers this error with.
    public var status: HTTPStatus {
        switch reason {
        case .uriTooLong: .uriTooLong
        case .headerSectionTooLarge, .tooManyHeaders: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        case .unsupportedTransferCoding: .notImplemented
        case .unsupportedExpectation: .expectationFailed
        default: .badRequest
        }
    }

    public var description: String { "\(status.code) \(reason.rawValue)" }
}
