import CaaSCompose
import CaaSModel
import Testing

/// One diagnostic a corpus file must produce: severity, path, line and a fragment of the message.
struct ExpectedDiagnostic: Sendable, CustomStringConvertible {
    var severity: ComposeDiagnostic.Severity
    var path: String
    var line: Int
    var fragment: String

    static func error(_ line: Int, _ path: String, _ fragment: String) -> Self {
        Self(severity: .error, path: path, line: line, fragment: fragment)
    }

    static func warning(_ line: Int, _ path: String, _ fragment: String) -> Self {
        Self(severity: .warning, path: path, line: line, fragment: fragment)
    }

    func matches(_ d: ComposeDiagnostic) -> Bool {
        d.severity == severity && d.path == path && d.line == line && d.message.contains(fragment)
    }

    var description: String { "\(severity.rawValue) \(line) \(path): …\(fragment)…" }
}

/// A corpus file and what parsing it must give.
struct CorpusCase: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable {
        /// A spec, exactly these warnings, and field checks.
        case valid(warnings: [ExpectedDiagnostic], check: @Sendable (AppSpec, ComposeResult) throws -> Void)
        /// No spec, and exactly these diagnostics in this order.
        case invalid([ExpectedDiagnostic])
    }

    var file: String
    var variables: [String: String] = [:]
    var outcome: Outcome

    var testDescription: String { file }

    static func valid(_ file: String, variables: [String: String] = [:], warnings: [ExpectedDiagnostic] = [],
                      _ check: @escaping @Sendable (AppSpec, ComposeResult) throws -> Void) -> Self {
        Self(file: file, variables: variables, outcome: .valid(warnings: warnings, check: check))
    }

    static func invalid(_ file: String, variables: [String: String] = [:], _ diagnostics: [ExpectedDiagnostic]) -> Self {
        Self(file: file, variables: variables, outcome: .invalid(diagnostics))
    }
}

func expectDiagnostics(_ actual: [ComposeDiagnostic], _ expected: [ExpectedDiagnostic], sourceLocation: SourceLocation = #_sourceLocation) {
    let report = "actual:\n" + actual.map { "  \($0.severity.rawValue) \($0)" }.joined(separator: "\n")
        + "\nexpected:\n" + expected.map { "  \($0)" }.joined(separator: "\n")
    #expect(actual.count == expected.count, "\(report)", sourceLocation: sourceLocation)
    for (a, e) in zip(actual, expected) {
        #expect(e.matches(a), "\(e) ≠ \(a.severity.rawValue) \(a)", sourceLocation: sourceLocation)
    }
}
