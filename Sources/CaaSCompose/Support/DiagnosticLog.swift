import CaaSModel

/// Collects diagnostics while a compose text is read, and where the text asks for host access;
/// the parser reports them all at once.
final class DiagnosticLog {
    private(set) var items: [ComposeDiagnostic] = []
    private(set) var hostAccess: [HostAccessDeclaration] = []

    var hasErrors: Bool { items.contains { $0.severity == .error } }

    func error(_ node: YNode, _ message: String) {
        add(.error, path: node.path, line: node.line, column: node.column, message)
    }

    func warning(_ node: YNode, _ message: String) {
        add(.warning, path: node.path, line: node.line, column: node.column, message)
    }

    /// A problem about a mapping key itself (unknown key, missing companion key): positioned at the key.
    func error(key entry: YEntry, _ message: String) {
        add(.error, path: entry.value.path, line: entry.keyLine, column: entry.keyColumn, message)
    }

    func warning(key entry: YEntry, _ message: String) {
        add(.warning, path: entry.value.path, line: entry.keyLine, column: entry.keyColumn, message)
    }

    func add(_ severity: ComposeDiagnostic.Severity, path: String, line: Int?, column: Int?, _ message: String) {
        items.append(ComposeDiagnostic(severity: severity, path: path, line: line, column: column, message: message))
    }

    /// Records that the text asks for `access` at `node` (the host policy rules on it later).
    func declare(_ access: HostAccess, at node: YNode) {
        hostAccess.append(HostAccessDeclaration(access: access, path: node.path, line: node.line, column: node.column))
    }

    func sorted() -> [ComposeDiagnostic] { Self.sorted(items) }

    /// Sorted by position; diagnostics without a position come last. Stable for equal positions.
    static func sorted(_ items: [ComposeDiagnostic]) -> [ComposeDiagnostic] {
        items.enumerated().sorted { a, b in
            let la = a.element.line ?? Int.max, lb = b.element.line ?? Int.max
            if la != lb { return la < lb }
            let ca = a.element.column ?? 0, cb = b.element.column ?? 0
            if ca != cb { return ca < cb }
            return a.offset < b.offset
        }.map(\.element)
    }
}
