/// Whether and how to colour output: only on a terminal, never with `NO_COLOR` (no-color.org)
/// or `TERM=dumb`.
public struct TerminalStyle: Sendable, Equatable {
    public enum Colour: String, Sendable {
        case red = "31"
        case green = "32"
        case yellow = "33"
        case blue = "34"
        case grey = "90"
    }

    public var colour: Bool

    public init(colour: Bool) { self.colour = colour }

    public static let plain = TerminalStyle(colour: false)

    /// The style for a stream: colour when it is a terminal and the environment allows it.
    public static func detect(isTerminal: Bool, environment: [String: String]) -> TerminalStyle {
        if environment["NO_COLOR"].map({ !$0.isEmpty }) == true { return .plain }
        if environment["TERM"] == "dumb" { return .plain }
        return TerminalStyle(colour: isTerminal)
    }

    public func paint(_ text: String, _ colour: Colour) -> String {
        self.colour ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }

    public func bold(_ text: String) -> String {
        colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }

    /// The colour of a status word: green when well, yellow while on the way, red when not.
    public static func colour(forStatus status: String) -> Colour? {
        switch status.lowercased() {
        case "running", "ready", "active", "succeeded", "healthy", "connected", "success", "ok": .green
        case "pending", "deploying", "starting", "assigned", "draining", "paused", "in_progress", "updating", "removing",
             "deleting", "unknown": .yellow
        case "failed", "down", "degraded", "lost", "unhealthy", "exited", "rolled_back", "suspended", "disconnected",
             "revoked", "failure": .red
        default: nil
        }
    }
}
