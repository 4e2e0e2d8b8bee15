import CaaSModel

/// Collects diagnostics while a compose text is read, and where the text asks for host access;
/// the parser reports them all at once.
///
/// A diagnostic repeated at the same place (the same node reached through several aliases) is kept
/// once, and at most `maxItems` errors and as many warnings are kept: past that a count of the rest
/// closes the list, so a hostile text cannot make an answer of millions of lines, and warnings never
/// crowd out an error.
final class DiagnosticLog {
    static let maxItems = 500
    private(set) var items: [ComposeDiagnostic] = []
    private(set) var hostAccess: [HostAccessDeclaration] = []
    private(set) var hasErrors = false
    private var seen: Set<Key> = []
    private var kept: [ComposeDiagnostic.Severity: Int] = [:]
    private var dropped: [ComposeDiagnostic.Severity: Int] = [:]

    private struct Key: Hashable {
        var severity: ComposeDiagnostic.Severity
        var line: Int?
        var column: Int?
        var message: String
    }

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
        if severity == .error { hasErrors = true }
        guard seen.insert(Key(severity: severity, line: line, column: column, message: message)).inserted else { return }
        guard kept[severity, default: 0] < Self.maxItems else {
            dropped[severity, default: 0] += 1
            return
        }
        kept[severity, default: 0] += 1
        items.append(ComposeDiagnostic(severity: severity, path: path, line: line, column: column, message: message))
    }

    /// Records that the text asks for `access` at `node` (the host policy rules on it later).
    func declare(_ access: HostAccess, at node: YNode) {
        hostAccess.append(HostAccessDeclaration(access: access, path: node.path, line: node.line, column: node.column))
    }

    /// Every diagnostic kept, by position, then (when some were not kept) how many more there were.
    func sorted() -> [ComposeDiagnostic] {
        var all = Self.sorted(items)
        for (severity, what) in [(ComposeDiagnostic.Severity.error, "errors"), (.warning, "warnings")] {
            guard let count = dropped[severity] else { continue }
            all.append(ComposeDiagnostic(severity: severity, path: "", line: nil, column: nil,
                                         message: "\(count) more \(what) not shown (at most \(Self.maxItems) are listed)"))
        }
        return all
    }

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
