/// A cheap pass over the raw text, before any YAML parser sees it, that rejects input built to hurt:
/// oversized text, nesting deep enough to exhaust a recursive parser's stack, and mapping keys that
/// are not plain strings: an alias, a list or a mapping as a key, in block or flow style, and
/// explicit `? ` keys (the YAML library hashes every key to find duplicates, and hashing an aliased
/// tree costs as much as expanding it: `[*bomb: x]` is a billion laughs the node count never sees).
///
/// The nesting estimate counts block indentation levels, `- ` markers and flow brackets; it may
/// overestimate for odd plain scalars, never underestimate real structure.
struct InputScreen {
    struct Finding {
        var line: Int
        var column: Int
        var message: String
    }

    let limits: ComposeLimits

    func screen(_ text: String) -> Finding? {
        let size = text.utf8.count
        if size > limits.maxBytes {
            return Finding(line: 1, column: 1, message: "the compose text is \(size) bytes; the limit is \(limits.maxBytes) bytes")
        }
        var indentStack: [Int] = []
        /// The open flow collections, innermost last: `[` or `{`.
        var flow: [Unicode.Scalar] = []
        /// In a flow collection, right after the `[`, `{`, `,` or `:` that begins a node (nil
        /// elsewhere): after `{` or `,` in a mapping the next node is a key.
        var flowNodeAfter: Unicode.Scalar? = nil
        var quote: Unicode.Scalar? = nil
        var blockScalarParentIndent: Int? = nil
        var lineNumber = 0

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Array(rawLine.unicodeScalars.filter { $0 != "\r" })
            let indent = line.prefix { $0 == " " }.count
            let isBlank = indent == line.count || line[indent] == "#"

            if let parentIndent = blockScalarParentIndent {
                if isBlank || indent > parentIndent { continue }
                blockScalarParentIndent = nil
            }
            if isBlank && quote == nil { continue }

            var column = 0
            if quote == nil && flow.isEmpty {
                // Block structure: pop levels at or beyond this indentation, then push this one and any `- ` / `? ` markers.
                while let top = indentStack.last, top >= indent { indentStack.removeLast() }
                indentStack.append(indent)
                column = indent
                while column < line.count, line[column] == "-" || line[column] == "?",
                      column + 1 == line.count || line[column + 1] == " " {
                    if line[column] == "?" {
                        return Finding(line: lineNumber, column: column + 1, message: "explicit mapping keys ('? ') are not supported in compose files")
                    }
                    column += 1
                    while column < line.count, line[column] == " " { column += 1 }
                    indentStack.append(column)
                }
                if indentStack.count + 1 > limits.maxDepth {
                    return Finding(line: lineNumber, column: column + 1, message: "the document nests deeper than \(limits.maxDepth) levels")
                }
            }

            var previous: Unicode.Scalar = " "
            var lastSignificant: Unicode.Scalar = " "
            var i = column
            while i < line.count {
                let c = line[i]
                defer { previous = line[min(i, line.count - 1)]; i += 1 }
                if let open = quote {
                    if open == "\"" && c == "\\" { i += 1; continue }
                    if c == open { quote = nil }
                    continue
                }
                let atTokenStart = previous == " " || previous == "\t" || previous == "[" || previous == "{" || previous == "," || i == column
                let nodeStart = flowNodeAfter != nil
                let keyHere = flow.last == "{" && (flowNodeAfter == "{" || flowNodeAfter == ",")
                if c != " " && c != "\t" && c != "#" { flowNodeAfter = nil }
                switch c {
                case "#" where previous == " " || previous == "\t" || i == 0:
                    i = line.count
                    continue
                case "\"" where atTokenStart, "'" where atTokenStart:
                    quote = c
                case "?" where (i + 1 == line.count || line[i + 1] == " ")
                            && (nodeStart || (flow.isEmpty && atTokenStart && lastSignificant == ":")):
                    return Finding(line: lineNumber, column: i + 1, message: "explicit mapping keys ('? ') are not supported in compose files")
                case "[" where atTokenStart || !flow.isEmpty, "{" where atTokenStart || !flow.isEmpty:
                    if keyHere {
                        return Finding(line: lineNumber, column: i + 1, message: "mapping keys must be plain strings, not lists or mappings")
                    }
                    flow.append(c)
                    flowNodeAfter = c
                    if indentStack.count + flow.count + 1 > limits.maxDepth {
                        return Finding(line: lineNumber, column: i + 1, message: "the document nests deeper than \(limits.maxDepth) levels")
                    }
                case "]" where !flow.isEmpty, "}" where !flow.isEmpty:
                    flow.removeLast()
                    if let next = line[(i + 1)...].first(where: { $0 != " " }), next == ":" {
                        return Finding(line: lineNumber, column: i + 1, message: "mapping keys must be plain strings, not lists or mappings")
                    }
                case "," where !flow.isEmpty, ":" where !flow.isEmpty:
                    flowNodeAfter = c
                case "*" where flow.isEmpty ? atTokenStart : nodeStart:
                    if keyHere {
                        return Finding(line: lineNumber, column: i + 1, message: "a YAML alias cannot be used as a mapping key")
                    }
                    var j = i + 1
                    while j < line.count, Self.isAnchorChar(line[j]) { j += 1 }
                    while j < line.count, line[j] == " " { j += 1 }
                    // In flow style any `:` after the alias makes it a key; in block style `: ` does.
                    if j > i + 1, j < line.count, line[j] == ":",
                       !flow.isEmpty || j + 1 == line.count || line[j + 1] == " " {
                        return Finding(line: lineNumber, column: i + 1, message: "a YAML alias cannot be used as a mapping key")
                    }
                case "|" where atTokenStart && flow.isEmpty && (lastSignificant == ":" || lastSignificant == "-" || lastSignificant == " "),
                     ">" where atTokenStart && flow.isEmpty && (lastSignificant == ":" || lastSignificant == "-" || lastSignificant == " "):
                    let rest = line[(i + 1)...]
                    let header = rest.prefix { $0 != " " && $0 != "#" }
                    let afterHeader = rest.dropFirst(header.count).drop { $0 == " " }
                    if header.allSatisfy({ $0 == "-" || $0 == "+" || ("1"..."9").contains($0) }),
                       afterHeader.isEmpty || afterHeader.first == "#" {
                        blockScalarParentIndent = indent
                        i = line.count
                        continue
                    }
                default:
                    break
                }
                if c != " " { lastSignificant = c }
            }
        }
        return nil
    }

    static func isAnchorChar(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c == "-" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }
}
