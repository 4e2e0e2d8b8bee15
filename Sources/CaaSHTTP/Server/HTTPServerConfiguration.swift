import Foundation

/// Where and how an `HTTPServer` listens, and the limits it enforces.
public struct HTTPServerConfiguration: Sendable {
    /// A listening address.
    public enum Address: Sendable, Hashable, CustomStringConvertible {
        /// TCP on an IPv4 or IPv6 literal (`127.0.0.1`, `::1`, `0.0.0.0`, `::`); port 0 picks a free one.
        case tcp(host: String, port: Int)
        /// A unix domain socket at `path` (a stale socket file there is replaced).
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }
    }

    /// Where request handlers run.
    public enum HandlerExecution: Sendable, Hashable {
        /// On the connection's event-loop thread (a `TaskExecutor`): no thread hop; a handler that
        /// completes synchronously answers in the same loop iteration. Handlers must not block.
        case eventLoop
        /// On Swift's global concurrent executor; responses hop back to the loop.
        case globalExecutor
    }

    public var addresses: [Address]
    public var limits: HTTPServerLimits
    /// Event-loop threads (default: one per core, at most 8).
    public var eventLoopCount: Int
    public var handlerExecution: HandlerExecution
    /// TLS for every listening address (nil: plain HTTP).
    public var tls: TLSConfiguration?
    /// `listen(2)` backlog.
    public var backlog: Int32
    /// Client addresses (without port) that `HTTPServerLimits.maxConnectionsPerAddress` does not
    /// count: the operator's load balancers, through which every client arrives.
    public var exemptFromAddressLimit: @Sendable (String) -> Bool = { _ in false }

    public init(addresses: [Address] = [.tcp(host: "127.0.0.1", port: 8080)],
                limits: HTTPServerLimits = HTTPServerLimits(),
                eventLoopCount: Int = min(8, max(1, ProcessInfo.processInfo.activeProcessorCount)),
                handlerExecution: HandlerExecution = .eventLoop,
                tls: TLSConfiguration? = nil,
                backlog: Int32 = 4096) {
        self.addresses = addresses
        self.limits = limits
        self.eventLoopCount = max(1, eventLoopCount)
        self.handlerExecution = handlerExecution
        self.tls = tls
        self.backlog = backlog
    }
}

/// Limits with safe defaults; each breach is answered with its status and logged.
public struct HTTPServerLimits: Sendable, Hashable {
    /// Longest request-target (414).
    public var maxURILength: Int = 8 * 1024
    /// Largest header section (431).
    public var maxHeaderSize: Int = 32 * 1024
    /// Most header fields (431).
    public var maxHeaderCount: Int = 100
    /// Largest request body (413); handlers may enforce less with `collect(upTo:)`.
    public var maxBodySize: Int = 8 * 1024 * 1024
    /// Time from the first byte of a request to the end of its header section (408).
    public var headerReadTimeout: Duration = .seconds(10)
    /// Longest wait for the next piece of a request body while the handler waits for it (408).
    public var bodyReadTimeout: Duration = .seconds(30)
    /// How long a keep-alive connection may sit between requests; then it is closed silently.
    public var idleTimeout: Duration = .seconds(60)
    /// Longest time queued response bytes may make no progress toward a client that stopped reading.
    public var writeTimeout: Duration = .seconds(30)
    /// Most open connections; the next one gets `503` and is closed.
    public var maxConnections: Int = 16_384
    /// Most open connections from one client address (TCP; unix sockets are not counted); the
    /// next one gets `429` and is closed, so one client cannot take every connection.
    public var maxConnectionsPerAddress: Int = 256
    /// Response bytes queued for one connection before a streaming writer waits.
    public var writeHighWatermark: Int = 256 * 1024
    /// Request body bytes buffered for a handler before the server stops reading.
    public var readHighWatermark: Int = 256 * 1024

    public init(maxURILength: Int = 8 * 1024, maxHeaderSize: Int = 32 * 1024, maxHeaderCount: Int = 100,
                maxBodySize: Int = 8 * 1024 * 1024, headerReadTimeout: Duration = .seconds(10),
                bodyReadTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(60),
                writeTimeout: Duration = .seconds(30), maxConnections: Int = 16_384) {
        self.maxURILength = maxURILength
        self.maxHeaderSize = maxHeaderSize
        self.maxHeaderCount = maxHeaderCount
        self.maxBodySize = maxBodySize
        self.headerReadTimeout = headerReadTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxConnections = maxConnections
    }

    var parserLimits: HTTPParserLimits {
        HTTPParserLimits(maxURILength: maxURILength, maxHeaderSize: maxHeaderSize,
                         maxHeaderCount: maxHeaderCount, maxBodySize: maxBodySize)
    }

    /// How often loops check deadlines: a quarter of the shortest timeout, within 5 ms … 250 ms.
    var sweepInterval: UInt64 {
        let shortest = [headerReadTimeout, bodyReadTimeout, idleTimeout, writeTimeout].map(\.nanoseconds).min() ?? 1_000_000_000
        return min(250_000_000, max(5_000_000, shortest / 4))
    }
}
