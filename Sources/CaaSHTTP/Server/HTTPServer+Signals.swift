#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Self-pipe signal delivery, shared by every handler of the process.
///
/// A `DispatchSource` signal source on Linux only sees signals delivered to threads that block
/// them; a signal that lands on an event-loop thread (or any thread started earlier) runs
/// libdispatch's handler and is lost. So the C handler here writes the signal number to a pipe
/// (`write(2)` is async-signal-safe) and a Dispatch read source on the other end does the work.
private enum SignalPipe {
    nonisolated(unsafe) static var writeFD: Int32 = -1
    static let setup = Mutex<(readFD: Int32, source: (any DispatchSourceRead)?, handlers: [Int32: [UInt64: @Sendable () -> Void]])>(
        (-1, nil, [:]))
    static let ids = Atomic<UInt64>(0)

    static func install(_ signals: [Int32], action: @escaping @Sendable () -> Void) -> UInt64 {
        let id = ids.wrappingAdd(1, ordering: .relaxed).newValue
        setup.withLock { state in
            if state.readFD < 0 {
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { return }
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
                state.readFD = fds[0]
                writeFD = fds[1]
                let source = DispatchSource.makeReadSource(fileDescriptor: fds[0], queue: DispatchQueue(label: "caas.http.signals"))
                source.setEventHandler { SignalPipe.drain() }
                source.resume()
                state.source = source
            }
            for signal in signals {
                state.handlers[signal, default: [:]][id] = action
                Glibc.signal(signal, { number in
                    var byte = UInt8(truncatingIfNeeded: number)
                    _ = Glibc.write(SignalPipe.writeFD, &byte, 1)
                })
            }
        }
        return id
    }

    static func remove(_ id: UInt64, signals: [Int32]) {
        setup.withLock { state in
            for signal in signals {
                state.handlers[signal]?[id] = nil
                if state.handlers[signal]?.isEmpty ?? true { Glibc.signal(signal, SIG_DFL) }
            }
        }
    }

    private static func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = setup.withLock { state in bytes.withUnsafeMutableBytes { Glibc.read(state.readFD, $0.baseAddress, 64) } }
        guard count > 0 else { return }
        for number in bytes[0..<count] {
            let actions = setup.withLock { state in Array((state.handlers[Int32(number)] ?? [:]).values) }
            for action in actions { action() }
        }
    }
}

/// Keeps signal handling installed; `cancel()` removes it (restoring the default action).
public final class HTTPServerSignalHandler: Sendable {
    private let id: UInt64
    private let signals: [Int32]

    init(id: UInt64, signals: [Int32]) {
        self.id = id
        self.signals = signals
    }

    public func cancel() {
        SignalPipe.remove(id, signals: signals)
    }
}

extension HTTPServer {
    /// Shuts the server down gracefully on the first of `signals` (default SIGTERM and SIGINT):
    /// in-flight requests get `gracePeriod` to finish. Keep the returned handler until shutdown.
    @discardableResult
    public func shutdownOnSignals(_ signals: [Int32] = [SIGTERM, SIGINT], gracePeriod: Duration = .seconds(10)) -> HTTPServerSignalHandler {
        let id = SignalPipe.install(signals) { [self] in
            Task { await self.shutdown(gracePeriod: gracePeriod) }
        }
        return HTTPServerSignalHandler(id: id, signals: signals)
    }
}
