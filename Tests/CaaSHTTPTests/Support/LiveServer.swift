import Foundation
import Logging
import Synchronization
@testable import CaaSHTTP

/// Log lines captured for assertions.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    var all: [Entry] { entries.withLock { $0 } }
    func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    func contains(_ message: String, _ key: String? = nil, _ value: String? = nil) -> Bool {
        all.contains { $0.message == message && (key == nil || $0.metadata[key!] == value) }
    }

    var logger: Logger {
        var logger = Logger(label: "test") { _ in CapturingHandler(capture: self) }
        logger.logLevel = .debug
        return logger
    }

    struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            var merged: [String: String] = [:]
            for (key, value) in self.metadata { merged[key] = "\(value)" }
            for (key, value) in explicit ?? [:] { merged[key] = "\(value)" }
            capture.append(Entry(level: level, message: "\(message)", metadata: merged))
        }
    }
}

/// Starts a server on an ephemeral loopback port, runs `body`, and shuts the server down.
func withLiveServer(
    addresses: [HTTPServerConfiguration.Address] = [.tcp(host: "127.0.0.1", port: 0)],
    limits: HTTPServerLimits = HTTPServerLimits(),
    eventLoops: Int = 2,
    execution: HTTPServerConfiguration.HandlerExecution = .eventLoop,
    tls: TLSConfiguration? = nil,
    logs: LogCapture = LogCapture(),
    exemptFromAddressLimit: @escaping @Sendable (String) -> Bool = { _ in false },
    responder: any HTTPResponder,
    _ body: (HTTPServer) async throws -> Void
) async throws {
    var configuration = HTTPServerConfiguration(addresses: addresses, limits: limits, eventLoopCount: eventLoops,
                                                handlerExecution: execution, tls: tls)
    configuration.exemptFromAddressLimit = exemptFromAddressLimit
    let server = try HTTPServer(configuration: configuration, responder: responder, logger: logs.logger)
    try server.start()
    do {
        try await body(server)
    } catch {
        await server.shutdown(gracePeriod: .milliseconds(100))
        throw error
    }
    await server.shutdown(gracePeriod: .milliseconds(500))
}

/// Waits until `condition` holds, polling briefly; fails after `timeout`.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

/// A one-shot signal a handler can wait on.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { state.withLock { $0.open } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
