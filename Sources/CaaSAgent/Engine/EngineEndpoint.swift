/// Where a node's engine listens: a unix socket or TCP, with TLS when the URL says `https` or
/// `tcp+tls`.
public enum EngineEndpoint: Sendable, Equatable, CustomStringConvertible {
    case unixSocket(path: String)
    case tcp(host: String, port: Int, tls: Bool)

    /// Reads `unix:///run/docker.sock`, `/run/docker.sock`, `tcp://h:2375`, `tcp+tls://h:2376`,
    /// `https://h:2376`, `http://h:2375`.
    public init?(_ text: String) {
        if text.hasPrefix("/") {
            self = .unixSocket(path: text)
            return
        }
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        let rest = String(text[separator.upperBound...])
        if scheme == "unix" {
            guard rest.hasPrefix("/") else { return nil }
            self = .unixSocket(path: rest)
            return
        }
        let tls: Bool
        switch scheme {
        case "tcp", "http": tls = false
        case "tcp+tls", "https": tls = true
        default: return nil
        }
        let hostPort = rest.split(separator: "/", maxSplits: 1).first.map(String.init) ?? rest
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self = .tcp(host: host, port: port, tls: tls)
    }

    public var description: String {
        switch self {
        case .unixSocket(let path): "unix://\(path)"
        case .tcp(let host, let port, let tls): "\(tls ? "tcp+tls" : "tcp")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }
}

/// Makes the transport for an endpoint (the CaaSHTTP client in production).
public typealias EngineTransportFactory = @Sendable (EngineEndpoint) -> any EngineTransport
