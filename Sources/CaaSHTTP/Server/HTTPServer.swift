#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import Synchronization

/// The HTTP/1.1 server: POSIX sockets driven by epoll on a few event-loop threads.
///
///     let server = HTTPServer(configuration: .init(addresses: [.tcp(host: "::1", port: 0)]),
///                             responder: router, logger: logger)
///     try server.start()
///     let handler = server.shutdownOnSignals()          // SIGTERM / SIGINT → graceful shutdown
///     await server.waitUntilStopped()
///
/// No thread per connection: each loop multiplexes thousands of connections; each request runs its
/// handler in a task (on the loop by default, see `HTTPServerConfiguration.HandlerExecution`).
/// Keep-alive, pipelining (answered in order), `HEAD`, `Expect: 100-continue`, HTTP/1.0,
/// chunked request and response bodies, TLS (with optional client certificates) and every limit of
/// `HTTPServerLimits` are handled here; routing and middleware live in `Router`.
public final class HTTPServer: Sendable {
    private enum State {
        case idle
        case running(listeners: [Listener])
        case stopping
        case stopped
    }

    private struct Lifecycle {
        var state = State.idle
        var addresses: [HTTPServerConfiguration.Address] = []
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public let configuration: HTTPServerConfiguration
    private let core: ServerCore
    private let lifecycle = Mutex(Lifecycle())

    /// - Throws: `TLSError` when the TLS configuration cannot be loaded.
    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(), responder: any HTTPResponder,
                logger: Logger = Logger(label: "caas.http")) throws {
        self.configuration = configuration
        let tlsContext = try configuration.tls.map { try TLSContext(server: $0) }
        core = ServerCore(configuration: configuration, responder: responder, logger: logger, tlsContext: tlsContext)
    }

    /// The bound addresses (TCP ports resolved when 0 was asked for), in configuration order.
    public var addresses: [HTTPServerConfiguration.Address] { lifecycle.withLock { $0.addresses } }

    /// The port of the first TCP address.
    public var port: Int? {
        for case .tcp(_, let port) in addresses { return port }
        return nil
    }

    /// Open connections right now.
    public var connectionCount: Int { core.connectionCount }

    /// Raises the soft limit on open files to the hard limit (or `target`, if lower), so that
    /// `maxConnections` is reachable; returns the limit now in force. Call once at start-up.
    @discardableResult
    public static func raiseFileDescriptorLimit(to target: Int = 65_536) -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return -1 }
        let wanted = min(limit.rlim_max, rlim_t(target))
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted
            _ = setrlimit(resource, &limit)
            _ = getrlimit(resource, &limit)
        }
        return Int(limit.rlim_cur)
    }

    /// Binds every address and starts the event loops.
    public func start() throws {
        try lifecycle.withLock { life in
            guard case .idle = life.state else { throw HTTPServerError.invalidState("start() called twice") }
            var bound: [(Int32, HTTPServerConfiguration.Address)] = []
            do {
                for address in configuration.addresses {
                    bound.append(try SocketAddress.listen(on: address, backlog: configuration.backlog))
                }
            } catch {
                for (fd, _) in bound { Glibc.close(fd) }
                throw error
            }
            let first = core.loops[0]
            let listeners = bound.map { Listener(fd: $0.0, address: $0.1, core: core, loop: first) }
            for loop in core.loops {
                loop.start(name: "caas-http-\(loop.index)") {}
            }
            first.execute {
                for listener in listeners {
                    _ = first.register(fd: listener.fd, handler: listener, events: Linux.eventIn)
                }
            }
            life.addresses = bound.map(\.1)
            life.state = .running(listeners: listeners)
        }
        core.logger.info("HTTP server listening", metadata: [
            "addresses": "\(addresses.map(\.description).joined(separator: ", "))",
            "event_loops": "\(core.loops.count)", "tls": "\(core.tlsContext != nil)",
        ])
    }

    /// Starts (unless started) and returns when the server has stopped. Cancelling the calling task
    /// shuts the server down gracefully within `gracePeriod`.
    public func run(gracePeriod: Duration = .seconds(10)) async throws {
        if case .idle = lifecycle.withLock({ $0.state }) { try start() }
        await withTaskCancellationHandler {
            await waitUntilStopped()
        } onCancel: {
            Task { await self.shutdown(gracePeriod: gracePeriod) }
        }
    }

    /// Returns once shutdown has completed.
    public func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = lifecycle.withLock { life -> Bool in
                if case .stopped = life.state { return true }
                life.stopWaiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    public func shutdown(gracePeriod: Duration) async {
        await shutdown(deadline: .now + gracePeriod)
    }

    /// Graceful shutdown: stop accepting, close idle connections, let requests in flight finish
    /// (their connections close after the response) until `deadline`, then close what remains.
    public func shutdown(deadline: ContinuousClock.Instant) async {
        enum Step { case neverStarted, stop([Listener]), wait }
        let step: Step = lifecycle.withLock { life in
            switch life.state {
            case .idle:
                life.state = .stopped
                return .neverStarted
            case .running(let listeners):
                life.state = .stopping
                return .stop(listeners)
            case .stopping, .stopped:
                return .wait
            }
        }
        let listeners: [Listener]
        switch step {
        case .neverStarted:
            resumeStopWaiters()
            return
        case .wait:
            await waitUntilStopped()
            return
        case .stop(let list):
            listeners = list
        }
        core.logger.info("HTTP server shutting down", metadata: ["connections": "\(core.connectionCount)"])
        core.startDraining()
        let first = core.loops[0]
        await onLoop(first) { for listener in listeners { listener.close() } }
        for loop in core.loops {
            await onLoop(loop) { loop.forEachHandler { ($0 as? HTTPConnection)?.beginDrain() } }
        }

        let core = self.core
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await core.waitForNoConnections() }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
        if core.connectionCount > 0 {
            core.logger.warning("shutdown deadline reached; closing connections", metadata: ["connections": "\(core.connectionCount)"])
            for loop in core.loops {
                await onLoop(loop) { loop.forEachHandler { ($0 as? HTTPConnection)?.close() } }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for loop in core.loops {
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        loop.execute { loop.stopAfterThisIteration { continuation.resume() } }
                    }
                }
            }
        }
        lifecycle.withLock { $0.state = .stopped }
        core.logger.info("HTTP server stopped")
        resumeStopWaiters()
    }

    private func resumeStopWaiters() {
        let waiters = lifecycle.withLock { life in
            defer { life.stopWaiters = [] }
            return life.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func onLoop(_ loop: EventLoop, _ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute {
                body()
                continuation.resume()
            }
        }
    }
}
