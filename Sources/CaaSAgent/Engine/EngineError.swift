/// Everything that can go wrong talking to an engine; the one error type of the engine client.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 404: no such container, image or exec.
    case notFound(String)
    /// 409: name in use, container not running, removal in progress.
    case conflict(String)
    /// 304: already started or already stopped.
    case notModified
    /// No connection to the engine, or it broke.
    case unreachable(String)
    case timedOut(String)
    /// Any other status, with the engine's message.
    case status(Int, String)
    /// The engine answered something this client cannot read.
    case malformed(String)

    public var description: String {
        switch self {
        case .notFound(let message): "not found: \(message)"
        case .conflict(let message): "conflict: \(message)"
        case .notModified: "not modified"
        case .unreachable(let reason): "engine unreachable: \(reason)"
        case .timedOut(let what): "timed out: \(what)"
        case .status(let code, let message): "engine answered \(code): \(message)"
        case .malformed(let what): "malformed engine answer: \(what)"
        }
    }

    /// Whether the engine itself could not be reached (as opposed to refusing a request).
    public var isUnreachable: Bool {
        switch self {
        case .unreachable, .timedOut: true
        default: false
        }
    }
}
