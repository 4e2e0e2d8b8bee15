import CaaSModel

/// Typed reads of `YNode` values; each failure is logged at the node with what was expected.
struct ValueReader {
    let log: DiagnosticLog

    static let trueWords: Set<String> = ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"]
    static let falseWords: Set<String> = ["false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"]

    /// A non-null scalar's text (numbers and booleans as written).
    func string(_ node: YNode, what: String = "a string") -> String? {
        guard let scalar = node.scalar, !scalar.isNull else {
            log.error(node, "expected \(what), found \(node.kindName)")
            return nil
        }
        return scalar.text
    }

    /// A scalar's text, or `nil` for null, without complaint; logs for mappings and lists.
    func optionalString(_ node: YNode, what: String = "a string") -> String?? {
        guard let scalar = node.scalar else {
            log.error(node, "expected \(what), found \(node.kindName)")
            return nil
        }
        return .some(scalar.isNull ? nil : scalar.text)
    }

    func int(_ node: YNode, what: String = "an integer", in range: ClosedRange<Int>? = nil) -> Int? {
        guard let text = string(node, what: what) else { return nil }
        guard let value = Int(text.trimmingSpaces) else {
            log.error(node, "expected \(what), found '\(text)'")
            return nil
        }
        if let range, !range.contains(value) {
            log.error(node, "\(value) is out of range (\(range.lowerBound)…\(range.upperBound))")
            return nil
        }
        return value
    }

    func double(_ node: YNode, what: String = "a number", in range: ClosedRange<Double>? = nil) -> Double? {
        guard let text = string(node, what: what) else { return nil }
        guard let value = Double(text.trimmingSpaces), value.isFinite else {
            log.error(node, "expected \(what), found '\(text)'")
            return nil
        }
        if let range, !range.contains(value) {
            log.error(node, "\(text) is out of range (\(range.lowerBound.compact)…\(range.upperBound.compact))")
            return nil
        }
        return value
    }

    func bool(_ node: YNode) -> Bool? {
        guard let text = string(node, what: "a boolean") else { return nil }
        if Self.trueWords.contains(text) { return true }
        if Self.falseWords.contains(text) { return false }
        log.error(node, "expected a boolean (true or false), found '\(text)'")
        return nil
    }

    /// A duration (`10s`, `1m30s`, `500ms`, or a bare number of seconds), in seconds, at most
    /// `SpecBounds.durationSeconds` (a week).
    func duration(_ node: YNode) -> Double? {
        guard let text = string(node, what: "a duration") else { return nil }
        guard let seconds = Units.seconds(text) else {
            log.error(node, "expected a duration such as '10s' or '1m30s', found '\(text)'")
            return nil
        }
        guard SpecBounds.durationSeconds.contains(seconds) else {
            log.error(node, "'\(text)' is out of range (at most \(Int(SpecBounds.durationSeconds.upperBound / 3600))h)")
            return nil
        }
        return seconds
    }

    func bytes(_ node: YNode) -> Int64? {
        guard let text = string(node, what: "a byte size") else { return nil }
        guard let bytes = Units.bytes(text) else {
            log.error(node, "expected a byte size such as '512M' or '1g', found '\(text)'")
            return nil
        }
        guard SpecBounds.memoryBytes.contains(bytes) else {
            log.error(node, "'\(text)' is out of range (at most 1024t)")
            return nil
        }
        return bytes
    }

    func mapping(_ node: YNode, what: String = "a mapping") -> [YEntry]? {
        guard let entries = node.entries else {
            log.error(node, "expected \(what), found \(node.kindName)")
            return nil
        }
        return entries
    }

    func list(_ node: YNode, what: String = "a list") -> [YNode]? {
        guard let items = node.items else {
            log.error(node, "expected \(what), found \(node.kindName)")
            return nil
        }
        return items
    }

    /// A list of strings, or a single string when `allowSingle` (e.g. `dns: 8.8.8.8`).
    func strings(_ node: YNode, allowSingle: Bool = false) -> [(String, YNode)]? {
        if allowSingle, let scalar = node.scalar, !scalar.isNull {
            return [(scalar.text, node)]
        }
        guard let items = list(node, what: allowSingle ? "a string or a list of strings" : "a list of strings") else { return nil }
        return items.compactMap { item in string(item).map { ($0, item) } }
    }

    /// `labels`-style values: a mapping of scalars, or a list of `KEY=VALUE` (or bare `KEY`).
    /// Returns entries in order with the node holding each; `nil` value for a bare key or a null.
    func keyValues(_ node: YNode, what: String) -> [(key: String, value: String?, node: YNode)]? {
        if let entries = node.entries {
            var out: [(String, String?, YNode)] = []
            for entry in entries {
                guard let scalar = entry.value.scalar else {
                    log.error(entry.value, "\(what) values must be strings, numbers or booleans, found \(entry.value.kindName)")
                    continue
                }
                out.append((entry.key, scalar.isNull ? nil : scalar.text, entry.value))
            }
            return out
        }
        if let items = node.items {
            var out: [(String, String?, YNode)] = []
            for item in items {
                guard let text = string(item) else { continue }
                if let eq = text.firstIndex(of: "=") {
                    out.append((String(text[..<eq]), String(text[text.index(after: eq)...]), item))
                } else {
                    out.append((text, nil, item))
                }
            }
            return out
        }
        log.error(node, "expected a mapping or a list of KEY=VALUE strings, found \(node.kindName)")
        return nil
    }

    /// Warns about keys that are neither known nor `x-` extensions; `unsupported` keys get their own message.
    func checkKeys(_ entries: [YEntry], known: Set<String>, unsupported: [String: String] = [:], context: String) {
        for entry in entries where !known.contains(entry.key) && !entry.key.hasPrefix("x-") {
            if let reason = unsupported[entry.key] {
                log.warning(key: entry, reason)
            } else {
                log.warning(key: entry, "unknown key '\(entry.key)' in \(context); ignored")
            }
        }
    }
}

extension String {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}

extension Double {
    /// `2` rather than `2.0` in messages.
    var compact: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
