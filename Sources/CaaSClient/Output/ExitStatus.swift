/// caasctl's exit codes, documented in `--help` and docs/caasctl.md.
public enum CaaSExitStatus: Int32, Sendable, CaseIterable {
    case ok = 0
    /// Anything that failed: a rollout failed or was rolled back, invalid compose, server errors,
    /// connection and TLS failures.
    case failure = 1
    /// The command line is wrong: unknown flag, missing argument, no server configured.
    case usage = 2
    /// The object does not exist (404, or a name that matched nothing).
    case notFound = 3
    /// A conflict (409) or a stale write (412): read again and retry.
    case conflict = 4
    /// Authentication (401) or permission (403) failed.
    case unauthorized = 5

    /// The exit code for a failure of the client.
    public static func of(_ error: CaaSClientError) -> CaaSExitStatus {
        switch error {
        case .problem(let problem): of(status: problem.status)
        case .notFound: .notFound
        case .configuration: .usage
        case .ambiguous, .unreachable, .tls, .timeout, .transport, .invalidResponse: .failure
        }
    }

    /// The exit code for an HTTP error status.
    public static func of(status: Int) -> CaaSExitStatus {
        switch status {
        case 401, 403: .unauthorized
        case 404, 410: .notFound
        case 409, 412: .conflict
        default: .failure
        }
    }

    /// The lines of `--help` that explain the codes.
    public static let helpText = """
        Exit codes:
          0  success
          1  failure: rollout failed or rolled back, invalid compose, server
             error, server unreachable, TLS failure
          2  usage: unknown flag, missing argument, no server configured
          3  not found: 404, or a name that matches nothing
          4  conflict (409) or stale write (412)
          5  authentication (401) or permission (403) failure
        """
}
