import Logging

/// Logs one line per request after it is answered: method, path, route, status, duration and
/// (through the context's logger) `request.id`, all as structured metadata.
public struct AccessLogMiddleware: HTTPMiddleware {
    public var level: Logger.Level

    public init(level: Logger.Level = .info) {
        self.level = level
    }

    public func handle(_ request: HTTPRequest, context: RequestContext,
                       next: (HTTPRequest, RequestContext) async throws -> HTTPResponse) async throws -> HTTPResponse {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            log(request, context, status: status, start: start)
            throw error
        }
    }

    private func log(_ request: HTTPRequest, _ context: RequestContext, status: Int, start: ContinuousClock.Instant) {
        guard context.logger.logLevel <= level else { return }
        let elapsed = ContinuousClock.now - start
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "http.method": "\(request.method)",
            "http.path": "\(request.path)",
            "http.status": "\(status)",
            "duration_ms": "\(Double(micros) / 1000)",
        ]
        if let route = context.route { metadata["http.route"] = "\(route)" }
        context.logger.log(level: level, "request", metadata: metadata)
    }
}
