/// A request as handlers see it: head, streaming body and the connection it came on.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request-target exactly as received.
    public var target: String
    /// The path part of the target, still percent-encoded (`/v1/apps/app_1`).
    public var path: String
    /// The query part of the target without `?`, still percent-encoded; nil when absent.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: HTTPRequestBody
    public var connection: HTTPConnectionInfo

    public init(method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
                body: HTTPRequestBody = .empty, connection: HTTPConnectionInfo = .local) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.connection = connection
        (path, query) = HTTPRequest.split(target)
    }

    init(head: HTTPRequestHead, body: HTTPRequestBody, connection: HTTPConnectionInfo) {
        self.init(method: head.method, target: head.target, version: head.version, headers: head.headers,
                  body: body, connection: connection)
    }

    /// Splits a request-target into path and query (absolute-form loses its scheme and authority).
    static func split(_ target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        if !rest.hasPrefix("/") {
            if let schemeEnd = rest.range(of: "://") {
                let afterAuthority = rest[schemeEnd.upperBound...]
                if let slash = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                    rest = afterAuthority[slash...]
                    if rest.hasPrefix("?") { return ("/", String(rest.dropFirst())) }
                } else {
                    return ("/", nil)
                }
            } else {
                return (target, nil)
            }
        }
        guard let mark = rest.utf8.firstIndex(of: UInt8(ascii: "?")) else {
            return (rest.startIndex == target.startIndex && rest.endIndex == target.endIndex ? target : String(rest), nil)
        }
        return (String(rest[..<mark]), String(rest[rest.index(after: mark)...]))
    }
}

/// What is known about the connection a request arrived on.
public final class HTTPConnectionInfo: Sendable {
    /// `ip:port` for TCP (`[::1]:port` for IPv6), `unix` for unix sockets, `local` for in-process tests.
    public let remoteAddress: String
    /// Whether the connection is TLS.
    public let isSecure: Bool
    /// The client's certificate when TLS with client certificates is on (verified against the CA).
    public let peerCertificate: PeerCertificate?

    public init(remoteAddress: String, isSecure: Bool = false, peerCertificate: PeerCertificate? = nil) {
        self.remoteAddress = remoteAddress
        self.isSecure = isSecure
        self.peerCertificate = peerCertificate
    }

    /// The connection of a request made in-process (router tests).
    public static let local = HTTPConnectionInfo(remoteAddress: "local")
}
