import Synchronization

/// Writes the pieces of a streamed response body.
///
/// Each `write` is framed as one chunk (HTTP/1.1) and waits while too much is queued for a slow
/// client (backpressure). When the client has gone away, `write` throws
/// `HTTPServerError.clientDisconnected` and the producing task is cancelled.
public struct HTTPResponseBodyWriter: Sendable {
    enum Sink: Sendable {
        case connection(HTTPConnection, exchange: UInt64)
        case collector(Collector)
    }

    final class Collector: Sendable {
        private let storage = Mutex<[UInt8]>([])
        func append(_ bytes: [UInt8]) { storage.withLock { $0.append(contentsOf: bytes) } }
        var bytes: [UInt8] { storage.withLock { $0 } }
    }

    let sink: Sink

    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        switch sink {
        case .connection(let connection, let exchange):
            try await connection.writeBodyPiece(bytes, exchange: exchange)
        case .collector(let collector):
            collector.append(bytes)
        }
    }

    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Whether the client is still connected (a snapshot).
    public var isConnected: Bool {
        switch sink {
        case .connection(let connection, let exchange): connection.isOpen(exchange: exchange)
        case .collector: true
        }
    }
}
