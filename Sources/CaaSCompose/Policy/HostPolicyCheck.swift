import CaaSModel

/// One place a compose text asks for host access, with the position to name when it is refused.
public struct HostAccessDeclaration: Sendable, Equatable {
    public var access: HostAccess
    /// `services.web.volumes[0]`, `volumes.data.external`, …
    public var path: String
    public var line: Int?
    public var column: Int?

    public init(access: HostAccess, path: String, line: Int?, column: Int?) {
        self.access = access
        self.path = path
        self.line = line
        self.column = column
    }
}

extension ComposeResult {
    /// The diagnostics for every declaration `policy` refuses: errors at the declaration's position.
    public func hostPolicyErrors(_ policy: HostPolicy) -> [ComposeDiagnostic] {
        hostAccess.compactMap { declaration in
            policy.refusal(for: declaration.access).map {
                ComposeDiagnostic(severity: .error, path: declaration.path, line: declaration.line, column: declaration.column, message: $0)
            }
        }
    }

    /// This result as a tenant with `policy` sees it: what the policy refuses is an error like any
    /// other (so there is no spec when anything is refused).
    public func checked(against policy: HostPolicy) -> ComposeResult {
        let refusals = hostPolicyErrors(policy)
        guard !refusals.isEmpty else { return self }
        var out = self
        out.diagnostics = DiagnosticLog.sorted(diagnostics + refusals)
        out.spec = nil
        return out
    }
}
