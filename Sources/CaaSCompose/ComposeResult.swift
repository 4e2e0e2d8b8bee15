import CaaSModel

/// What `ComposeParser.parse` found: the spec when the text is valid, and every problem at once.
public struct ComposeResult: Sendable {
    /// `nil` when there is at least one error.
    public var spec: AppSpec?
    /// Errors and warnings, sorted by position (line, then column).
    public var diagnostics: [ComposeDiagnostic]
    /// Every variable the text references, in order of appearance.
    public var variables: [VariableReference]
    /// Names referenced without a default and not supplied (each once, in order of first use).
    public var missingVariables: [String]
    /// Where the text asks for host access (binds, privileged mode, …), in order: what a
    /// tenant's `HostPolicy` rules on (see `checked(against:)`).
    public var hostAccess: [HostAccessDeclaration]

    public init(spec: AppSpec?, diagnostics: [ComposeDiagnostic], variables: [VariableReference], missingVariables: [String],
                hostAccess: [HostAccessDeclaration] = []) {
        self.spec = spec
        self.diagnostics = diagnostics
        self.variables = variables
        self.missingVariables = missingVariables
        self.hostAccess = hostAccess
    }

    public var errors: [ComposeDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [ComposeDiagnostic] { diagnostics.filter { $0.severity == .warning } }
    public var isValid: Bool { spec != nil }
}
