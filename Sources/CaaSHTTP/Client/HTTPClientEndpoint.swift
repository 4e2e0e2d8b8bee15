/// Where requests go: a TCP host and port (plain or TLS) or a unix domain socket.
///
/// Accepted forms: `http://host[:port]`, `https://host[:port]` (hosts may be names, IPv4 or
/// bracketed IPv6 literals), `unix:///path/to.sock`, `http+unix://%2Fpath%2Fto.sock` (the
/// socket path percent-encoded as the host, as in requests-unixsocket) and `https+unix://…`.
public struct HTTPClientEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Address: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    public var usesTLS: Bool

    public init(address: Address, usesTLS: Bool = false) {
        self.address = address
        self.usesTLS = usesTLS
    }

    public static func tcp(host: String, port: Int, tls: Bool = false) -> HTTPClientEndpoint {
        HTTPClientEndpoint(address: .tcp(host: host, port: port), usesTLS: tls)
    }

    public static func unix(path: String) -> HTTPClientEndpoint {
        HTTPClientEndpoint(address: .unix(path: path))
    }

    /// Parses an endpoint string; any path after the authority is not allowed (see
    /// `HTTPClientRequest(method:url:)` for full URLs).
    public init(_ string: String) throws {
        let (endpoint, target) = try Self.parse(url: string)
        guard target == "/" else { throw HTTPClientError.invalidURL("\(string): an endpoint has no path") }
        self = endpoint
    }

    /// Splits a URL into its endpoint and request target ("/path?query").
    /// `unix:///path` URLs carry no request target: the whole path is the socket.
    static func parse(url: String) throws(HTTPClientError) -> (HTTPClientEndpoint, String) {
        guard let schemeEnd = url.range(of: "://") else { throw .invalidURL("\(url): no scheme") }
        let scheme = url[url.startIndex..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        switch scheme {
        case "unix":
            guard rest.hasPrefix("/"), rest.count > 1 else { throw .invalidURL("\(url): unix:// needs an absolute socket path") }
            return (.unix(path: String(rest)), "/")
        case "http+unix", "https+unix":
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            guard let path = rest[rest.startIndex..<authorityEnd].removingPercentEncodingStrict(), !path.isEmpty else {
                throw .invalidURL("\(url): the socket path must be percent-encoded as the host")
            }
            let target = Self.target(rest[authorityEnd...])
            return (HTTPClientEndpoint(address: .unix(path: path), usesTLS: scheme == "https+unix"), target)
        case "http", "https":
            let tls = scheme == "https"
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
            let authority = rest[rest.startIndex..<authorityEnd]
            guard !authority.contains("@") else { throw .invalidURL("\(url): user information is not supported") }
            var host: Substring
            var portText: Substring?
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { throw .invalidURL("\(url): unclosed IPv6 literal") }
                host = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":") else { throw .invalidURL("\(url): junk after IPv6 literal") }
                    portText = after.dropFirst()
                }
            } else if let colon = authority.firstIndex(of: ":") {
                host = authority[authority.startIndex..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard !host.isEmpty else { throw .invalidURL("\(url): no host") }
            var port = tls ? 443 : 80
            if let portText {
                guard let value = Int(portText), (1...65535).contains(value) else { throw .invalidURL("\(url): invalid port") }
                port = value
            }
            return (.tcp(host: String(host), port: port, tls: tls), Self.target(rest[authorityEnd...]))
        default:
            throw .invalidURL("\(url): unsupported scheme \(scheme)")
        }
    }

    private static func target(_ text: Substring) -> String {
        var target = text
        if let hash = target.firstIndex(of: "#") { target = target[target.startIndex..<hash] }
        if target.isEmpty { return "/" }
        if target.hasPrefix("?") { return "/" + target }
        return String(target)
    }

    /// The value of the `Host` header.
    var hostHeader: String {
        switch address {
        case .unix: return "localhost"
        case .tcp(let host, let port):
            let bracketed = host.contains(":") ? "[\(host)]" : host
            let defaultPort = usesTLS ? 443 : 80
            return port == defaultPort ? bracketed : "\(bracketed):\(port)"
        }
    }

    /// The name the server's certificate must carry.
    var tlsServerName: String? {
        if case .tcp(let host, _) = address { return host }
        return nil
    }

    public var description: String {
        switch address {
        case .tcp(let host, let port):
            return "\(usesTLS ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .unix(let path):
            return usesTLS ? "https+unix://\(path)" : "unix://\(path)"
        }
    }
}

extension Substring {
    /// Percent-decoding that rejects malformed escapes.
    func removingPercentEncodingStrict() -> String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - 55
        default: return nil
        }
    }
}
