import Logging
import Synchronization

/// What the loops, listeners and connections of one server share.
final class ServerCore: Sendable {
    let limits: HTTPServerLimits
    let handlerExecution: HTTPServerConfiguration.HandlerExecution
    let responder: any HTTPResponder
    let logger: Logger
    let loops: [EventLoop]
    let tlsContext: TLSContext?
    let exemptFromAddressLimit: @Sendable (String) -> Bool

    private let activeConnections = Atomic<Int>(0)
    /// Open connections by client address (only addresses the per-address limit counts).
    private let connectionsByAddress = Mutex<[String: Int]>([:])
    private let nextLoopIndex = Atomic<Int>(0)
    private let drainingFlag = Atomic<Bool>(false)
    private let zeroWaiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]>([:])
    private let waiterIDs = Atomic<UInt64>(0)

    init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger, tlsContext: TLSContext?) {
        limits = configuration.limits
        handlerExecution = configuration.handlerExecution
        self.responder = responder
        self.logger = logger
        self.tlsContext = tlsContext
        exemptFromAddressLimit = configuration.exemptFromAddressLimit
        let sweep = configuration.limits.sweepInterval
        loops = (0..<configuration.eventLoopCount).map { EventLoop(index: $0, sweepInterval: sweep) }
    }

    var connectionCount: Int { activeConnections.load(ordering: .relaxed) }
    var isDraining: Bool { drainingFlag.load(ordering: .relaxed) }
    func startDraining() { drainingFlag.store(true, ordering: .relaxed) }

    /// Whether a new connection may be served.
    enum Admission: Equatable {
        case admitted
        /// Over `maxConnections`: answered 503.
        case overTotal
        /// Over `maxConnectionsPerAddress` for its client address: answered 429.
        case overAddress
    }

    /// Counts a new connection from `address` (`nil`: not counted per address, as for unix
    /// sockets); every call is matched by one `connectionClosed(address:)` with the same address.
    func connectionOpened(address: String?) -> Admission {
        let total = activeConnections.wrappingAdd(1, ordering: .relaxed).newValue
        var perAddress = 0
        if let address {
            perAddress = connectionsByAddress.withLock { counts in
                let next = counts[address, default: 0] + 1
                counts[address] = next
                return next
            }
        }
        if perAddress > limits.maxConnectionsPerAddress { return .overAddress }
        return total > limits.maxConnections ? .overTotal : .admitted
    }

    /// The address a connection from `address` is counted under, or `nil` when it is not.
    func addressKey(_ address: String) -> String? {
        exemptFromAddressLimit(address) ? nil : address
    }

    func connectionClosed(address: String?) {
        if let address {
            connectionsByAddress.withLock { counts in
                let left = counts[address, default: 1] - 1
                if left <= 0 { counts.removeValue(forKey: address) } else { counts[address] = left }
            }
        }
        if activeConnections.wrappingSubtract(1, ordering: .relaxed).newValue == 0 {
            let waiters = zeroWaiters.withLock { waiters in
                defer { waiters = [:] }
                return Array(waiters.values)
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Returns when no connection is open (or the task is cancelled).
    func waitForNoConnections() async {
        let id = waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = zeroWaiters.withLock { waiters -> Bool in
                    if activeConnections.load(ordering: .relaxed) == 0 || Task.isCancelled { return true }
                    waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            zeroWaiters.withLock { $0.removeValue(forKey: id) }?.resume()
        }
    }

    func nextLoop() -> EventLoop {
        loops[nextLoopIndex.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// The last-resort answer to an error no middleware handled.
    func response(forUncaught error: any Error, request: HTTPRequest) -> HTTPResponse {
        if let error = error as? any HTTPResponseError { return error.response }
        logger.error("unhandled error in request handler", metadata: [
            "http.method": "\(request.method)", "http.path": "\(request.path)",
            "error.type": "\(String(reflecting: type(of: error)))",
        ])
        return .problem(Problem(status: .internalServerError))
    }
}
