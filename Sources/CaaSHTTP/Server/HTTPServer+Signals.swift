#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Keeps signal sources alive; `cancel()` restores default handling.
public final class HTTPServerSignalHandler: @unchecked Sendable {
    // DispatchSource is thread-safe; the array is written once in init.
    private let sources: [any DispatchSourceSignal]
    private let signals: [Int32]

    init(sources: [any DispatchSourceSignal], signals: [Int32]) {
        self.sources = sources
        self.signals = signals
    }

    public func cancel() {
        for source in sources { source.cancel() }
        for signal in signals { Glibc.signal(signal, SIG_DFL) }
    }
}

extension HTTPServer {
    /// Shuts the server down gracefully on the first of `signals` (default SIGTERM and SIGINT):
    /// in-flight requests get `gracePeriod` to finish. Keep the returned handler alive.
    @discardableResult
    public func shutdownOnSignals(_ signals: [Int32] = [SIGTERM, SIGINT], gracePeriod: Duration = .seconds(10)) -> HTTPServerSignalHandler {
        let queue = DispatchQueue(label: "caas.http.signals")
        var sources: [any DispatchSourceSignal] = []
        for signal in signals {
            Glibc.signal(signal, SIG_IGN)   // the dispatch source sees it; the default action must not run
            let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
            source.setEventHandler { [self] in
                Task { await self.shutdown(gracePeriod: gracePeriod) }
            }
            source.resume()
            sources.append(source)
        }
        return HTTPServerSignalHandler(sources: sources, signals: signals)
    }
}
