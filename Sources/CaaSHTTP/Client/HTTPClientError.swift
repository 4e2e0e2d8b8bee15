/// Every failure of `HTTPClient`, each with the detail needed to act on it.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The endpoint or URL could not be understood.
    case invalidURL(String)
    /// The request cannot be sent as given (header with CR/LF, bad target, …).
    case invalidRequest(String)
    /// A host name did not resolve.
    case hostNotFound(String)
    /// Nobody listens there: "127.0.0.1:8080" or a unix socket path (also: no such socket).
    case connectionRefused(String)
    /// The connection was not established within the connect timeout.
    case connectTimeout(String)
    /// Connecting failed for another reason (errno text).
    case connectFailed(String)
    /// The request did not complete within its timeout.
    case timeout
    /// The TLS layer failed (handshake, verification, protocol).
    case tls(TLSError)
    /// The request's `peerCheck` refused the server's certificate; nothing was sent.
    case peerRefused(String)
    /// The peer closed the connection before the response was complete.
    case connectionClosed
    /// The response broke HTTP/1.1 framing or syntax.
    case invalidResponse(String)
    /// The response head exceeded the header size limit.
    case headersTooLarge(limit: Int)
    /// The response body exceeded the body size limit.
    case bodyTooLarge(limit: Int)
    /// Reading or writing the socket failed (errno text).
    case io(String)
    /// The task was cancelled; the connection was closed.
    case cancelled
    /// The client was shut down.
    case shutdown

    public var description: String {
        switch self {
        case .invalidURL(let text): return "invalid URL: \(text)"
        case .invalidRequest(let text): return "invalid request: \(text)"
        case .hostNotFound(let host): return "host not found: \(host)"
        case .connectionRefused(let target): return "connection refused: \(target)"
        case .connectTimeout(let target): return "connect timeout: \(target)"
        case .connectFailed(let text): return "connect failed: \(text)"
        case .timeout: return "request timed out"
        case .tls(let error): return "\(error)"
        case .peerRefused(let reason): return "peer refused before sending: \(reason)"
        case .connectionClosed: return "connection closed before the response was complete"
        case .invalidResponse(let text): return "invalid response: \(text)"
        case .headersTooLarge(let limit): return "response head larger than \(limit) bytes"
        case .bodyTooLarge(let limit): return "response body larger than \(limit) bytes"
        case .io(let text): return "I/O error: \(text)"
        case .cancelled: return "request cancelled"
        case .shutdown: return "HTTP client is shut down"
        }
    }
}
