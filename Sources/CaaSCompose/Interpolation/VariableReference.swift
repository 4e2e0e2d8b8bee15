/// One use of a variable in a compose text, so a template can list the variables it needs.
public struct VariableReference: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// `${NAME}`, `$NAME` and the `${NAME…}` forms with a default, error or alternate.
        case interpolation
        /// A bare `NAME` in `environment:`, passed through from the deploy-time variables when given.
        case passthrough
    }

    public var name: String
    public var kind: Kind
    /// The text after `:-` / `-`, as written (it may itself reference variables).
    public var defaultValue: String?
    /// `${NAME:?message}` / `${NAME?message}`: deploying without it is an error.
    public var isRequired: Bool
    /// The message after `:?` / `?`, as written, when not empty.
    public var requiredMessage: String?
    /// Where the value containing the reference is.
    public var path: String
    public var line: Int?
    public var column: Int?

    public init(name: String, kind: Kind = .interpolation, defaultValue: String? = nil, isRequired: Bool = false, requiredMessage: String? = nil, path: String = "", line: Int? = nil, column: Int? = nil) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.isRequired = isRequired
        self.requiredMessage = requiredMessage
        self.path = path
        self.line = line
        self.column = column
    }
}
