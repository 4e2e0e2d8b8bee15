import Yams

/// Turns the Yams node tree into `YNode`s: expands aliases (Yams shares aliased nodes; here every
/// visit is counted against `ComposeLimits.maxNodes`), applies `<<` merge keys, interpolates scalar
/// values (never keys) and records every variable reference.
struct TreeBuilder {
    struct LimitExceeded: Error {}

    let limits: ComposeLimits
    let variables: [String: String]
    let log: DiagnosticLog
    private(set) var references: [VariableReference] = []
    /// Variables whose absence was felt (a plain reference or a required one), each once, in order.
    private(set) var missing: [String] = []
    private var nodeCount = 0
    /// Scalar text after alias expansion, in UTF-8 bytes: aliases of one long string cost each time they appear.
    private var textBytes = 0
    /// Scalars already interpolated, by where they are written: an alias repeats its anchor's
    /// scalars, which are interpolated (and their references and problems recorded) once.
    private var interpolated: [Site: (text: String, scalar: YScalar)] = [:]
    private var referenceCount = 0

    private struct Site: Hashable {
        var line: Int
        var column: Int
    }

    init(limits: ComposeLimits, variables: [String: String], log: DiagnosticLog) {
        self.limits = limits
        self.variables = variables
        self.log = log
    }

    /// Builds the tree, or logs why it cannot (limits) and throws `LimitExceeded`.
    mutating func build(_ node: Node) throws -> YNode {
        try build(node, path: "", depth: 1)
    }

    private mutating func count(_ node: Node, path: String, depth: Int) throws {
        nodeCount += 1
        let (line, column) = Self.position(node)
        if nodeCount > limits.maxNodes {
            log.add(.error, path: path, line: line, column: column,
                    "the document expands to more than \(limits.maxNodes) YAML nodes (are aliases repeating large anchors?)")
            throw LimitExceeded()
        }
        if depth > limits.maxDepth {
            log.add(.error, path: path, line: line, column: column, "the document nests deeper than \(limits.maxDepth) levels")
            throw LimitExceeded()
        }
    }

    static func position(_ node: Node) -> (Int, Int) {
        (node.mark?.line ?? 1, node.mark?.column ?? 1)
    }

    private mutating func build(_ node: Node, path: String, depth: Int) throws -> YNode {
        try count(node, path: path, depth: depth)
        let (line, column) = Self.position(node)
        switch node {
        case .scalar(let scalar):
            textBytes += scalar.string.utf8.count
            if textBytes > limits.maxExpandedTextBytes {
                log.add(.error, path: path, line: line, column: column,
                        "the document expands to more than \(limits.maxExpandedTextBytes) bytes of text (are aliases repeating long strings?)")
                throw LimitExceeded()
            }
            return YNode(value: .scalar(interpolate(scalar, path: path, line: line, column: column)), path: path, line: line, column: column)
        case .sequence(let sequence):
            var items: [YNode] = []
            items.reserveCapacity(sequence.count)
            for (i, item) in sequence.enumerated() {
                items.append(try build(item, path: YPath.index(path, i), depth: depth + 1))
            }
            return YNode(value: .sequence(items), path: path, line: line, column: column)
        case .mapping(let mapping):
            var entries: [YEntry] = []
            var keys = Set<String>()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    let (kl, kc) = Self.position(keyNode)
                    log.add(.error, path: path, line: kl, column: kc, "mapping keys must be plain strings")
                    continue
                }
                let (keyLine, keyColumn) = Self.position(keyNode)
                if keyScalar.string == "<<" && keyScalar.style != .singleQuoted && keyScalar.style != .doubleQuoted {
                    try merge(valueNode, into: &entries, keys: &keys, path: path, depth: depth)
                    continue
                }
                let childPath = YPath.child(path, keyScalar.string)
                let value = try build(valueNode, path: childPath, depth: depth + 1)
                // An explicit key replaces one merged in earlier.
                if !keys.insert(keyScalar.string).inserted {
                    entries.removeAll { $0.key == keyScalar.string }
                }
                entries.append(YEntry(key: keyScalar.string, keyLine: keyLine, keyColumn: keyColumn, value: value))
            }
            return YNode(value: .mapping(entries), path: path, line: line, column: column)
        case .alias:
            log.add(.error, path: path, line: line, column: column, "unresolved YAML alias")
            return YNode(value: .scalar(YScalar(text: "", isNull: true, isQuoted: false)), path: path, line: line, column: column)
        }
    }

    /// `<<: *anchor` or `<<: [*a, *b]`: keys not already present are added; earlier sources win.
    private mutating func merge(_ source: Node, into entries: inout [YEntry], keys: inout Set<String>, path: String, depth: Int) throws {
        let sources: [Node]
        switch source {
        case .mapping: sources = [source]
        case .sequence(let sequence): sources = Array(sequence)
        default:
            let (l, c) = Self.position(source)
            log.add(.error, path: path, line: l, column: c, "a merge key ('<<') takes a mapping or a list of mappings")
            return
        }
        for item in sources {
            guard case .mapping = item else {
                let (l, c) = Self.position(item)
                log.add(.error, path: path, line: l, column: c, "a merge key ('<<') takes a mapping or a list of mappings")
                continue
            }
            let merged = try build(item, path: path, depth: depth)
            for entry in merged.entries ?? [] where keys.insert(entry.key).inserted {
                entries.append(entry)
            }
        }
    }

    private mutating func interpolate(_ scalar: Node.Scalar, path: String, line: Int, column: Int) -> YScalar {
        let quoted = scalar.style != .plain && scalar.style != .any
        let text = scalar.string
        let isNull = !quoted && (text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL")
        guard text.contains("$") else { return YScalar(text: text, isNull: isNull, isQuoted: quoted) }
        let site = Site(line: line, column: column)
        if let earlier = interpolated[site], earlier.text == text { return earlier.scalar }

        let outcome = Interpolation.interpolate(text, variables: variables)
        defer { interpolated[site] = (text, YScalar(text: outcome.value, isNull: false, isQuoted: quoted)) }
        referenceCount += outcome.references.count
        if referenceCount > limits.maxVariableReferences {
            if referenceCount - outcome.references.count <= limits.maxVariableReferences {
                log.add(.error, path: path, line: line, column: column,
                        "the document uses variables more than \(limits.maxVariableReferences) times")
            }
            return YScalar(text: outcome.value, isNull: false, isQuoted: quoted)
        }
        for var reference in outcome.references {
            reference.path = path
            reference.line = line
            reference.column = column
            references.append(reference)
        }
        for problem in outcome.problems {
            switch problem {
            case .syntax(let message):
                log.add(.error, path: path, line: line, column: column, message)
            case let .missingRequired(name, message):
                if !missing.contains(name) { missing.append(name) }
                let detail = message.isEmpty ? "required variable \(name) is not set" : "required variable \(name) is not set: \(message)"
                log.add(.error, path: path, line: line, column: column, detail)
            case .missing(let name):
                if !missing.contains(name) { missing.append(name) }
                log.add(.warning, path: path, line: line, column: column, "variable \(name) is not set; substituting an empty string")
            }
        }
        return YScalar(text: outcome.value, isNull: false, isQuoted: quoted)
    }
}
