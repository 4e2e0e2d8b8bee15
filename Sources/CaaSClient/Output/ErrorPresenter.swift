/// Failures as people read them: the server's problem (title, detail, every field error with its
/// compose `file:line:column path` or JSON pointer), connection failures explained, and a hint
/// of what to do.
public struct ErrorPresenter: Sendable {
    public var style: TerminalStyle
    /// The compose file the request carried, to name in `file:line:column` positions.
    public var composeFile: String?

    public init(style: TerminalStyle = .plain, composeFile: String? = nil) {
        self.style = style
        self.composeFile = composeFile
    }

    public func render(_ error: CaaSClientError) -> String {
        var lines: [String] = []
        let prefix = style.paint("error:", .red)
        switch error {
        case .problem(let problem):
            lines.append("\(prefix) \(headline(problem))")
            for fieldError in problem.errors { lines.append("  " + position(fieldError)) }
            for key in problem.extensions.keys.sorted() where !["warnings", "spec"].contains(key) {
                lines.append("  \(key): \(problem.extensions[key]!.displayText)")
            }
            if problem.status >= 500, let requestID = problem.requestID { lines.append("  request id: \(requestID)") }
            if let hint = hint(problem) { lines.append("hint: \(hint)") }
        case .unreachable(let server, let detail):
            lines.append("\(prefix) cannot reach the caas server at \(server): \(detail)")
            lines.append("hint: check --server, CAAS_SERVER or the context (caasctl context ls)")
        case .tls(let server, let detail):
            lines.append("\(prefix) TLS with \(server) failed: \(detail)")
            lines.append("hint: if the server's certificate comes from a private CA, pass --ca-file (or log in again with --ca-file); "
                + "if the server speaks plain HTTP, use an http:// URL")
        case .timeout(let server):
            lines.append("\(prefix) the server at \(server) did not answer in time")
        case .transport(let server, let detail):
            lines.append("\(prefix) talking to \(server) failed: \(detail)")
        case .invalidResponse(let detail):
            lines.append("\(prefix) unexpected answer from the server: \(detail)")
        case .notFound(let kind, let name):
            lines.append("\(prefix) no \(kind) named \(name)")
        case .ambiguous(let kind, let name, let ids):
            lines.append("\(prefix) several \(kind)s are named \(name): \(ids.joined(separator: ", ")); name one by its id")
        case .configuration(let detail):
            lines.append("\(prefix) \(detail)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `Conflict: the cluster has applications (409)`.
    func headline(_ problem: ProblemDetails) -> String {
        var text = problem.title
        if let detail = problem.detail, !detail.isEmpty, detail != problem.title { text += ": " + detail }
        return text + " (\(problem.status))"
    }

    /// One field error: `compose.yml:12:7 services.web.ports[1]: invalid port`, or
    /// `/name: must not be empty` for a JSON pointer.
    public func position(_ error: ProblemDetails.FieldError) -> String {
        Self.position(error, file: composeFile)
    }

    public static func position(_ error: ProblemDetails.FieldError, file: String?) -> String {
        var location = ""
        if let line = error.line {
            location = "\(file ?? "compose"):\(line)" + (error.column.map { ":\($0)" } ?? "")
        } else if error.path != nil, let file {
            location = file
        }
        let path = error.path ?? error.pointer
        switch (location.isEmpty, path) {
        case (false, let path?): return "\(location) \(path): \(error.detail)"
        case (false, nil): return "\(location): \(error.detail)"
        case (true, let path?): return "\(path): \(error.detail)"
        case (true, nil): return error.detail
        }
    }

    func hint(_ problem: ProblemDetails) -> String? {
        switch problem.status {
        case 401: "the token is missing, wrong, expired or revoked: caasctl login --server URL --token T"
        case 403: "the token's role does not allow this (viewer reads; operator deploys and scales; admin manages tokens)"
        case 412: "the object changed since it was read; read it again and retry"
        case 429: problem.retryAfter.map { "rate limited; retry in \($0)s" } ?? "rate limited; retry later"
        default: nil
        }
    }
}
