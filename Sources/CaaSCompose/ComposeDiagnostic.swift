/// A problem found in a compose file: where it is (line, column, path such as `services.web.ports[1]`) and what.
public struct ComposeDiagnostic: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    public var path: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(severity: Severity, path: String, line: Int?, column: Int?, message: String) {
        self.severity = severity
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        let position = line.map { "\($0):\(column ?? 1)" } ?? "-"
        return "\(position) \(path): \(message)"
    }
}
