/// An error that knows its HTTP answer. Thrown from a handler or middleware, it becomes that status
/// with a problem+json body (through `RecoveryMiddleware`, or the server's last-resort handler).
/// Any other error becomes a 500 that reveals nothing of its internals.
public protocol HTTPResponseError: Error {
    var status: HTTPStatus { get }
    /// The problem document sent; by default just the status.
    var problem: Problem { get }
    /// Extra headers such as `Allow` or `Retry-After`.
    var headers: HTTPHeaders { get }
}

extension HTTPResponseError {
    public var problem: Problem { Problem(status: status) }
    public var headers: HTTPHeaders { [:] }

    /// The response this error becomes.
    public var response: HTTPResponse { .problem(problem, headers: headers) }
}

/// A ready-made `HTTPResponseError`: a status, an optional detail and field errors.
public struct HTTPError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var detail: String?
    public var type: String
    public var errors: [Problem.FieldError]?
    public var headers: HTTPHeaders

    public init(_ status: HTTPStatus, detail: String? = nil, type: String = "about:blank",
                errors: [Problem.FieldError]? = nil, headers: HTTPHeaders = [:]) {
        self.status = status
        self.detail = detail
        self.type = type
        self.errors = errors
        self.headers = headers
    }

    public var problem: Problem { Problem(type: type, status: status, detail: detail, errors: errors) }
    public var description: String { "\(status)" + (detail.map { ": \($0)" } ?? "") }
}
