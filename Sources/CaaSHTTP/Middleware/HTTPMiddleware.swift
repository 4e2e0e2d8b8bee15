/// A step around request handling: it sees the request and context on the way in and the response
/// (or error) on the way out. Calling `next` continues down the chain; not calling it answers
/// right here (short-circuit), as authentication or CORS preflight do.
///
/// Order matters: `Router.add(middleware:)` runs them in the order added, the first outermost.
/// The recommended base is `RequestIDMiddleware`, `AccessLogMiddleware`, `RecoveryMiddleware`.
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPRequest, context: RequestContext,
                next: (HTTPRequest, RequestContext) async throws -> HTTPResponse) async throws -> HTTPResponse
}
