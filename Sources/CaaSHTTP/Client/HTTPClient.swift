import Foundation
import Synchronization

/// Settings of an `HTTPClient`.
public struct HTTPClientConfiguration: Sendable {
    /// TLS for https endpoints (client side): trusted CA, optional client certificate,
    /// `verifyPeer`. The server name checked is the endpoint's host.
    public var tls: TLSConfiguration
    public var connectTimeout: Duration
    /// Idle keep-alive connections kept per endpoint.
    public var maxIdleConnectionsPerEndpoint: Int
    /// An idle connection older than this is closed instead of reused.
    public var idleTimeout: Duration
    /// Limit on a response head (status line and header fields), and on trailers.
    public var maxResponseHeadBytes: Int
    /// Limit on a body read into memory by `execute`; streamed bodies have no limit.
    public var maxResponseBodyBytes: Int
    /// Sent unless the request has its own `User-Agent`; `nil` sends none.
    public var userAgent: String?

    public init(
        tls: TLSConfiguration = TLSConfiguration(),
        connectTimeout: Duration = .seconds(10),
        maxIdleConnectionsPerEndpoint: Int = 8,
        idleTimeout: Duration = .seconds(60),
        maxResponseHeadBytes: Int = 64 * 1024,
        maxResponseBodyBytes: Int = 64 * 1024 * 1024,
        userAgent: String? = "caas"
    ) {
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.maxIdleConnectionsPerEndpoint = maxIdleConnectionsPerEndpoint
        self.idleTimeout = idleTimeout
        self.maxResponseHeadBytes = maxResponseHeadBytes
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.userAgent = userAgent
    }
}

/// An HTTP/1.1 client for TCP (plain or TLS) and unix-socket endpoints, with keep-alive pooling.
///
/// All blocking socket work runs on the client's own threads (`ClientBlockingExecutor`), never
/// on the cooperative pool; callers simply `await`. Cancelling the calling task closes the
/// connection in use.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let tlsContext: TLSContext
    let pool: ClientConnectionPool
    private let executor = ClientBlockingExecutor.shared
    private let isShutdown = Mutex(false)

    /// Fails when the TLS configuration names files that do not exist or do not match.
    /// Throws `HTTPClientError.tls`.
    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) throws {
        self.configuration = configuration
        do {
            self.tlsContext = try TLSContext(client: configuration.tls)
        } catch {
            throw HTTPClientError.tls(error as? TLSError ?? .protocolError("\(error)"))
        }
        self.pool = ClientConnectionPool(maxIdlePerEndpoint: configuration.maxIdleConnectionsPerEndpoint,
                                         idleTimeout: configuration.idleTimeout)
    }

    /// Closes idle connections; later requests fail with `.shutdown`.
    public func shutdown() {
        isShutdown.withLock { $0 = true }
        pool.shutdown()
    }

    /// Sends `request` and reads the whole response, within `timeout` from start to end.
    ///
    /// Throws `HTTPClientError` only. (The public API uses untyped `throws`: Swift 6.3 crashes
    /// compiling `catch HTTPClientError.case` patterns around typed-throws async calls.)
    public func execute(_ request: HTTPClientRequest, timeout: Duration = .seconds(30)) async throws -> HTTPClientResponse {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let exchange = try await start(request, deadline: deadline)
        var body: [UInt8] = []
        var trailers: HTTPClientHeaders?
        while let event = try await exchange.nextBodyEvent(deadline: deadline) {
            switch event {
            case .body(let bytes):
                if body.count + bytes.count > configuration.maxResponseBodyBytes {
                    exchange.discard()
                    throw HTTPClientError.bodyTooLarge(limit: configuration.maxResponseBodyBytes)
                }
                body += bytes
            case .end(let fields):
                trailers = fields
            case .head:
                break
            }
        }
        return HTTPClientResponse(head: exchange.head, body: body, trailers: trailers, peerCertificate: exchange.peerCertificate)
    }

    /// Sends `request` and returns once the response head arrived (within `timeout`); the body
    /// then streams without a time limit until it ends, the consumer stops iterating, or the
    /// consuming task is cancelled (which closes the connection).
    /// Throws `HTTPClientError` only; body iteration throws `HTTPClientError` too.
    public func stream(_ request: HTTPClientRequest, timeout: Duration = .seconds(30)) async throws -> HTTPClientStreamingResponse {
        let exchange = try await start(request, deadline: ContinuousClock.now.advanced(by: timeout))
        let body = AsyncThrowingStream<[UInt8], Error>(unfolding: {
            while let event = try await exchange.nextBodyEvent(deadline: nil) {
                if case .body(let bytes) = event, !bytes.isEmpty { return bytes }
            }
            return nil
        })
        return HTTPClientStreamingResponse(head: exchange.head, body: body, peerCertificate: exchange.peerCertificate)
    }

    // MARK: The exchange

    private func start(_ request: HTTPClientRequest, deadline: ClientDeadline) async throws(HTTPClientError) -> ClientExchange {
        if isShutdown.withLock({ $0 }) { throw .shutdown }
        let framing: ClientRequestEncoder.Framing
        switch request.body {
        case .none:
            let needsLength = [HTTPMethod.post, .put, .patch].contains(request.method)
            framing = needsLength ? .length(0) : .none
        case .bytes(let bytes): framing = .length(bytes.count)
        case .stream: framing = .chunked
        }
        let head = try ClientRequestEncoder.head(request, framing: framing, userAgent: configuration.userAgent)
        let canRetry = request.isIdempotent && request.isReplayable

        var attempt = 0
        while true {
            attempt += 1
            let pooled = attempt == 1 ? pool.take(request.endpoint) : nil
            let connection: ClientConnection
            if let pooled {
                connection = pooled
            } else {
                connection = try await connect(request.endpoint, deadline: deadline)
            }
            if let check = request.peerCheck, let refusal = check(connection.peerCertificate) {
                connection.close()
                throw .peerRefused(refusal)
            }
            let exchange = ClientExchange(client: self, connection: connection, request: request,
                                          maxHeadBytes: configuration.maxResponseHeadBytes)
            do throws(HTTPClientError) {
                try await exchange.send(head: head, body: request.body, deadline: deadline)
                try await exchange.readHead(deadline: deadline)
                return exchange
            } catch {
                exchange.discard()
                // A kept-alive connection the server closed meanwhile: send once more, fresh.
                let broken = error == .connectionClosed || { if case .io = error { true } else { false } }()
                if pooled != nil && canRetry && broken && !exchange.receivedResponseBytes && attempt == 1 { continue }
                throw error
            }
        }
    }

    private func connect(_ endpoint: HTTPClientEndpoint, deadline: ClientDeadline) async throws(HTTPClientError) -> ClientConnection {
        let connectDeadline = min(deadline, ContinuousClock.now.advanced(by: configuration.connectTimeout))
        let context = tlsContext
        let connection: ClientConnection
        do {
            connection = try await executor.run {
                try ClientConnection.connect(to: endpoint, tlsContext: context, connectDeadline: connectDeadline, deadline: deadline)
            }
        } catch let error as HTTPClientError {
            if case .connectTimeout = error, ContinuousClock.now >= deadline { throw .timeout }
            throw error
        } catch {
            throw .io("\(error)")
        }
        if Task.isCancelled {
            connection.close()
            throw .cancelled
        }
        return connection
    }

    /// Runs blocking work on the client's threads; task cancellation aborts `connection`.
    func blocking<T: Sendable>(_ connection: ClientConnection, _ work: @escaping @Sendable () throws(HTTPClientError) -> T) async throws(HTTPClientError) -> T {
        do {
            return try await withTaskCancellationHandler {
                try await executor.run { try work() }
            } onCancel: {
                connection.abort()
            }
        } catch let error as HTTPClientError {
            if Task.isCancelled || connection.isAborted { throw .cancelled }
            throw error
        } catch {
            throw .io("\(error)")
        }
    }

    func release(_ connection: ClientConnection) {
        connection.requestCount += 1
        pool.put(connection)
    }
}

/// One request/response on one connection. Used by one task at a time (each call is awaited
/// before the next), hence `@unchecked Sendable`; the connection itself handles cross-thread
/// aborts.
final class ClientExchange: @unchecked Sendable {
    private let client: HTTPClient
    private let connection: ClientConnection
    private let request: HTTPClientRequest
    private var parser: ClientResponseParser
    private var pending: [ClientResponseEvent] = []
    private var finished = false
    private var requestFullySent = false
    private(set) var receivedResponseBytes = false
    private(set) var head = HTTPClientResponseHead(status: 0, reason: "", headers: [:])

    init(client: HTTPClient, connection: ClientConnection, request: HTTPClientRequest, maxHeadBytes: Int) {
        self.client = client
        self.connection = connection
        self.request = request
        self.parser = ClientResponseParser(isHeadRequest: request.method == .head, maxHeadBytes: maxHeadBytes)
    }

    deinit {
        if !finished { connection.close() }
    }

    var peerCertificate: PeerCertificate? { connection.peerCertificate }

    /// Sends the request. When the server closes while the body is still going out (it may have
    /// answered early: 413, 401, …), sending stops quietly and `readHead` finds that answer or
    /// reports the closed connection.
    func send(head: [UInt8], body: HTTPClientRequest.Body, deadline: ClientDeadline) async throws(HTTPClientError) {
        let connection = self.connection
        switch body {
        case .none:
            try await client.blocking(connection) { () throws(HTTPClientError) in try connection.write(head, deadline: deadline) }
        case .bytes(let bytes):
            // Small bodies travel with the head in one write.
            let together = bytes.count <= 64 * 1024
            try await client.blocking(connection) { () throws(HTTPClientError) in
                try connection.write(together ? head + bytes : head, deadline: deadline)
            }
            if !together {
                do {
                    try await client.blocking(connection) { () throws(HTTPClientError) in try connection.write(bytes, deadline: deadline) }
                } catch .connectionClosed {
                    return
                }
            }
        case .stream(let stream):
            try await client.blocking(connection) { () throws(HTTPClientError) in try connection.write(head, deadline: deadline) }
            do {
                for try await chunk in stream where !chunk.isEmpty {
                    let framed = ClientRequestEncoder.chunk(chunk)
                    try await client.blocking(connection) { () throws(HTTPClientError) in try connection.write(framed, deadline: deadline) }
                }
                try await client.blocking(connection) { () throws(HTTPClientError) in
                    try connection.write(ClientRequestEncoder.lastChunk, deadline: deadline)
                }
            } catch let error as HTTPClientError {
                if error == .connectionClosed { return }
                throw error
            } catch {
                // The body's producer failed: the request cannot be completed.
                throw .invalidRequest("request body stream failed: \(error)")
            }
        }
        requestFullySent = true
    }

    func readHead(deadline: ClientDeadline) async throws(HTTPClientError) {
        while true {
            if let index = pending.firstIndex(where: { if case .head = $0 { true } else { false } }) {
                if case .head(let parsed) = pending[index] { head = parsed }
                pending.removeFirst(index + 1)
                return
            }
            try await readMore(deadline: deadline)
        }
    }

    /// The next body piece or the end; `nil` after the end.
    func nextBodyEvent(deadline: ClientDeadline?) async throws(HTTPClientError) -> ClientResponseEvent? {
        while true {
            if !pending.isEmpty {
                let event = pending.removeFirst()
                if case .end = event { complete() }
                return event
            }
            if finished { return nil }
            try await readMore(deadline: deadline)
        }
    }

    private func readMore(deadline: ClientDeadline?) async throws(HTTPClientError) {
        let connection = self.connection
        let chunk: [UInt8]?
        if deadline == nil {
            // No deadline: a streamed body that may be quiet for hours. Wait for readability
            // without a thread of our own.
            chunk = try await readWhenReadable(connection)
        } else {
            chunk = try await client.blocking(connection) { () throws(HTTPClientError) in try connection.read(deadline: deadline) }
        }
        if let chunk {
            receivedResponseBytes = true
            pending += try parser.parse(chunk)
        } else {
            pending += try parser.finish()
        }
    }

    private func readWhenReadable(_ connection: ClientConnection) async throws(HTTPClientError) -> [UInt8]? {
        while true {
            if Task.isCancelled || connection.isAborted {
                connection.abort()
                throw .cancelled
            }
            switch try connection.readWithoutWaiting() {
            case .data(let bytes): return bytes
            case .end: return nil
            case .wouldBlock:
                do {
                    try await ClientReadiness.shared.waitReadable(connection.descriptor)
                } catch {
                    connection.abort()
                    throw .cancelled
                }
            }
        }
    }

    private func complete() {
        guard !finished else { return }
        finished = true
        if parser.isReusable && requestFullySent && !connection.isAborted {
            client.release(connection)
        } else {
            connection.close()
        }
    }

    /// Gives up on the exchange: the connection is closed, never reused.
    func discard() {
        finished = true
        connection.close()
    }
}
