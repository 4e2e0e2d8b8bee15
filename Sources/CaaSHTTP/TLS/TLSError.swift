import COpenSSL

/// Every failure of the TLS engine. Messages carry OpenSSL's own error text where it has one.
public enum TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file named in the configuration does not exist or cannot be read. `role` says which
    /// ("certificate", "private key", "trusted CA").
    case fileNotFound(role: String, path: String)
    /// The configuration is incomplete or contradictory.
    case invalidConfiguration(String)
    /// OpenSSL refused a setup step (loading a file, creating a context, …).
    case openSSL(operation: String, message: String)
    /// The handshake failed: certificate verification, no shared cipher, missing client
    /// certificate, an alert from the peer, …
    case handshakeFailed(String)
    /// A protocol error after the handshake (bad record, alert from the peer, …).
    case protocolError(String)
    /// Data was written after `close()` or after a fatal error.
    case sessionClosed

    public var description: String {
        switch self {
        case .fileNotFound(let role, let path): return "\(role) file \(path) not found"
        case .invalidConfiguration(let message): return "invalid TLS configuration: \(message)"
        case .openSSL(let operation, let message): return "\(operation) failed: \(message)"
        case .handshakeFailed(let message): return "TLS handshake failed: \(message)"
        case .protocolError(let message): return "TLS error: \(message)"
        case .sessionClosed: return "TLS session is closed"
        }
    }
}

/// OpenSSL keeps its errors in a per-thread queue; this empties it into one line of text.
enum OpenSSLErrorQueue {
    static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "no error text from OpenSSL" : messages.joined(separator: "; ")
    }

    static func clear() { ERR_clear_error() }
}
