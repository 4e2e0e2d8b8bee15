/// Where a node's container engine listens: `unix:///var/run/docker.sock` or `tcp://host:port`
/// (with TLS when the node says so). Only the syntax is checked here; nothing connects.
public enum EngineEndpoint: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    public static func parse(_ text: String) -> Result<EngineEndpoint, EngineEndpointError> {
        guard text.utf8.count <= 512 else { return .failure(EngineEndpointError("the endpoint is longer than 512 characters")) }
        guard !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false }) else {
            return .failure(EngineEndpointError("the endpoint contains white space or control characters"))
        }
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/"), path.count > 1 else {
                return .failure(EngineEndpointError("unix endpoints need an absolute socket path: unix:///var/run/docker.sock"))
            }
            guard !path.split(separator: "/").contains("..") else {
                return .failure(EngineEndpointError("the socket path must not contain '..'"))
            }
            return .success(.unix(path: path))
        }
        if text.hasPrefix("tcp://") {
            var rest = Substring(text.dropFirst("tcp://".count))
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            let host: Substring
            let portText: Substring
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return .failure(EngineEndpointError("unclosed [ in an IPv6 address")) }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                guard after.hasPrefix(":") else { return .failure(EngineEndpointError("tcp endpoints need a port: tcp://host:2376")) }
                portText = after.dropFirst()
                guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                    return .failure(EngineEndpointError("\(host) is not an IPv6 address"))
                }
            } else {
                guard let colon = rest.lastIndex(of: ":") else {
                    return .failure(EngineEndpointError("tcp endpoints need a port: tcp://host:2376"))
                }
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
                guard isHostName(host) else { return .failure(EngineEndpointError("\(host) is not a host name or IPv4 address")) }
            }
            guard let port = Int(portText), portText.allSatisfy(\.isNumber), (1...65535).contains(port) else {
                return .failure(EngineEndpointError("the port must be 1 to 65535"))
            }
            return .success(.tcp(host: String(host), port: port))
        }
        return .failure(EngineEndpointError("the endpoint must start with unix:// or tcp://"))
    }

    private static func isHostName(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }
}

public struct EngineEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
