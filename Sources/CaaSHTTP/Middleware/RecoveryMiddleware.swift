/// Turns thrown errors into answers. An `HTTPResponseError` becomes its status as problem+json;
/// anything else becomes a `500` problem that reveals nothing but the request id, and is logged
/// (type and description) with the request id for the operator.
public struct RecoveryMiddleware: HTTPMiddleware {
    public init() {}

    public func handle(_ request: HTTPRequest, context: RequestContext,
                       next: (HTTPRequest, RequestContext) async throws -> HTTPResponse) async throws -> HTTPResponse {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            var problem = error.problem
            if problem.instance == nil && !context.requestID.isEmpty { problem.instance = "urn:request:\(context.requestID)" }
            return .problem(problem, headers: error.headers)
        } catch {
            context.logger.error("unhandled error", metadata: [
                "error.type": "\(String(reflecting: type(of: error)))",
                "error": "\(String(describing: error))",
                "http.method": "\(request.method)",
                "http.path": "\(request.path)",
            ])
            let detail = context.requestID.isEmpty ? nil : "The request \(context.requestID) failed; the error was logged."
            return .problem(Problem(status: .internalServerError, detail: detail,
                                    instance: context.requestID.isEmpty ? nil : "urn:request:\(context.requestID)"))
        }
    }
}
