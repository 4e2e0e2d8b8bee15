import CaaSClient

/// A command that ran and failed for a reason of its own (a rollout that failed, an invalid
/// compose file): the message has been or will be printed, the exit code is `status`.
struct CommandFailure: Error, Sendable {
    var message: String?
    var status: CaaSExitStatus

    init(_ message: String?, status: CaaSExitStatus = .failure) {
        self.message = message
        self.status = status
    }
}
