/// Every failure of `CaaSClient`, each with what a person needs to act on it.
public enum CaaSClientError: Error, Sendable, Equatable {
    /// The server answered with an error (problem+json).
    case problem(ProblemDetails)
    /// Nobody answered at the server's address: refused, unknown host, connect timeout.
    case unreachable(server: String, detail: String)
    /// The TLS handshake failed: unknown CA, wrong name, expired certificate, plain HTTP port.
    case tls(server: String, detail: String)
    /// The request did not complete in time.
    case timeout(server: String)
    /// The connection broke or the answer was not HTTP the client understands.
    case transport(server: String, detail: String)
    /// A success answer the client cannot read (the server speaks another API version?).
    case invalidResponse(String)
    /// A name that matched nothing (resolved through a list call).
    case notFound(kind: String, name: String)
    /// A name that matched several objects; an id picks one.
    case ambiguous(kind: String, name: String, ids: [String])
    /// Settings that cannot work: no server, an unreadable CA file, a malformed URL.
    case configuration(String)
}
