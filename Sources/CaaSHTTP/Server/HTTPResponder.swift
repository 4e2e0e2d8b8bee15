/// The one core protocol: something that answers a request. The router, a middleware chain, or a
/// plain closure (`HTTPResponderClosure`) can be given to `HTTPServer`.
///
/// `respond` runs in its own task, by default on the connection's event-loop thread (see
/// `HTTPServerConfiguration.HandlerExecution`), so it must not block: await instead.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse
}

/// A responder made from a closure.
public struct HTTPResponderClosure: HTTPResponder {
    private let closure: @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse

    public init(_ closure: @escaping @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse) {
        self.closure = closure
    }

    public func respond(to request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse {
        try await closure(request, context)
    }
}
