import Foundation

/// Where the API listens: `127.0.0.1:8080`, `[::1]:8080`, `:8080` (all interfaces), `unix:/run/caas.sock`.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public init(parsing text: String) throws(ConfigurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("unix:") {
            var path = String(trimmed.dropFirst("unix:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty, path.utf8.count < 108 else {
                throw ConfigurationError(setting: "listen", message: "unix socket path must be 1 to 107 bytes: \(text)")
            }
            self = .unix(path: path)
            return
        }
        let host: Substring
        let portText: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]"), trimmed[trimmed.index(after: close)...].hasPrefix(":") else {
                throw ConfigurationError(setting: "listen", message: "expected [ipv6]:port, got \(text)")
            }
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            portText = trimmed[trimmed.index(close, offsetBy: 2)...]
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw ConfigurationError(setting: "listen", message: "expected host:port or unix:/path, got \(text)")
            }
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError(setting: "listen", message: "invalid port in \(text)")
        }
        self = .tcp(host: host.isEmpty ? "0.0.0.0" : String(host), port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}


