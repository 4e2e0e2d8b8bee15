import CaaSModel
import Foundation
import Yams

/// Compose text as the API shows it: the value of every environment entry whose name is secret
/// (`SecretNames`) replaced by `***` where it is written, in both forms (`- KEY=value` in a list,
/// `KEY: value` in a mapping), the rest of the text unchanged (comments, order, layout).
///
/// Entries are found as caas reads them: under each service (`services.<name>`, or top-level
/// services in the version 1 format), through aliases and `<<` merge keys (an anchored value is
/// redacted where the anchor writes it). When a secret value sits where no exact span can be
/// found (a plain scalar folded over several lines, text that is not YAML), nothing of the text is
/// shown: `withheld` instead. Never a secret by mistake.
///
/// `rewrite` is the same walk with any new value: the server uses it to store an application's
/// compose text with its literal secret values sealed.
public enum ComposeRedaction {
    /// What answers show instead of a text caas could not redact with certainty.
    public static let withheld = "# caas withholds this compose text: it holds a secret value caas cannot redact in place\n"

    public struct Redacted: Sendable, Equatable {
        /// The text with secret values replaced.
        public var text: String
        /// The lines (from 1) on which a redacted value begins: variable references there are
        /// secret too (their defaults are not shown).
        public var lines: Set<Int>
    }

    public static func redact(_ text: String, isSecret: @escaping (String) -> Bool = SecretNames.isSecret) -> Redacted {
        rewrite(text, isSecret: isSecret) { _, _ in mask } ?? Redacted(text: withheld, lines: [])
    }

    static let mask = "***"

    /// The text with the value of every secret environment entry replaced by
    /// `newValue(name, written)` where it is written (`written`: the value as the text has it,
    /// before interpolation; nil from `newValue` leaves it as it is). The new value keeps the
    /// entry's look where it can (`- KEY=value` stays plain) and is quoted where it must be.
    /// nil when the text is not YAML, is built to hurt a parser (`InputScreen`, the walk's
    /// budget), or a secret value has no exact place in it.
    public static func rewrite(_ text: String, isSecret: @escaping (String) -> Bool = SecretNames.isSecret,
                               newValue: (_ name: String, _ written: String) throws -> String?) rethrows -> Redacted? {
        guard text.contains(where: { $0 == ":" || $0 == "=" }) else { return Redacted(text: text, lines: []) }
        guard InputScreen(limits: .standard).screen(text) == nil, let root = try? Yams.compose(yaml: text) else { return nil }
        let source = SourceText(text)
        var walk = EntryWalk(isSecret: isSecret)
        guard let entries = walk.secretEntries(root) else { return nil }
        var replacements: [Int: Replacement] = [:]
        for (name, value, form) in entries {
            guard let written = writtenValue(value, form: form) else { continue }
            guard let new = try newValue(name.trimmingSpaces, written) else { continue }
            guard let replacement = source.replacement(for: value, form: form, newValue: new) else { return nil }
            replacements[replacement.start] = replacement
        }
        guard let rewritten = source.applying(replacements.values.sorted { $0.start < $1.start }) else { return nil }
        return Redacted(text: rewritten, lines: Set(replacements.values.map(\.line)))
    }

    /// The value of an entry as written: a mapping's scalar, or what follows `=` in a list item.
    static func writtenValue(_ node: Node, form: Form) -> String? {
        guard let text = node.scalar?.string else { return nil }
        switch form {
        case .mapValue: return text
        case .listItem: return text.firstIndex(of: "=").map { String(text[text.index(after: $0)...]) }
        }
    }

    /// How an entry is written: a mapping's value, or a list item `KEY=value` with its key as written.
    enum Form {
        case mapValue
        case listItem(key: String)
    }
}

/// Finds the secret environment entries of a compose document as caas reads them: each service's
/// `environment` (services under `services`, or at the top in the version 1 format), through `<<`
/// merges and aliases. Merges nest at most 16 deep and the walk visits at most `budget` nodes (an
/// alias can repeat a large anchor): past either it gives up.
struct EntryWalk {
    typealias Entry = (name: String, value: Node, form: ComposeRedaction.Form)

    let isSecret: (String) -> Bool
    var budget = 200_000

    /// nil when the walk gave up.
    mutating func secretEntries(_ root: Node) -> [Entry]? {
        guard let top = root.mapping else { return [] }
        let services: [Node]
        if let declared = top["services"] {
            services = declared.mapping.map { Array($0.values) } ?? []
        } else {
            services = top.filter { $0.key.string?.hasPrefix("x-") == false && $0.key.string != "version" }.map(\.value)
        }
        var out: [Entry] = []
        for service in services {
            guard let environments = valuesOf("environment", in: service, depth: 0) else { return nil }
            for environment in environments {
                guard let entries = entries(of: environment, depth: 0) else { return nil }
                out += entries
            }
        }
        return out
    }

    private mutating func visit() -> Bool {
        budget -= 1
        return budget >= 0
    }

    /// The values of `key` in a mapping and in the mappings it merges (`<<`).
    private mutating func valuesOf(_ key: String, in node: Node, depth: Int) -> [Node]? {
        guard depth < 16, visit() else { return nil }
        guard let mapping = node.mapping else { return [] }
        var found: [Node] = []
        for (k, value) in mapping {
            guard visit() else { return nil }
            if k.string == key { found.append(value) }
            if k.string == "<<" {
                for source in Self.merged(value) {
                    guard let more = valuesOf(key, in: source, depth: depth + 1) else { return nil }
                    found += more
                }
            }
        }
        return found
    }

    private static func merged(_ node: Node) -> [Node] {
        if node.mapping != nil { return [node] }
        return node.sequence.map { Array($0) } ?? []
    }

    private mutating func entries(of environment: Node, depth: Int) -> [Entry]? {
        guard depth < 16, visit() else { return nil }
        if let mapping = environment.mapping {
            var out: [Entry] = []
            for (key, value) in mapping {
                guard visit() else { return nil }
                guard let name = key.string else { continue }
                if name == "<<" {
                    for source in Self.merged(value) {
                        guard let more = entries(of: source, depth: depth + 1) else { return nil }
                        out += more
                    }
                    continue
                }
                guard let scalar = value.scalar, isSecret(name.trimmingSpaces), !Self.isPlainNull(scalar) else { continue }
                out.append((name, value, .mapValue))
            }
            return out
        }
        if let sequence = environment.sequence {
            var out: [Entry] = []
            for item in sequence {
                guard visit() else { return nil }
                guard let text = item.scalar?.string, let equals = text.firstIndex(of: "=") else { continue }
                let key = String(text[..<equals])
                if isSecret(key.trimmingSpaces) { out.append((key, item, .listItem(key: key))) }
            }
            return out
        }
        return []
    }

    private static func isPlainNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}

/// One secret value's place in the text and what is written there instead.
struct Replacement {
    /// Offsets in the text's Unicode scalars: `start..<end`.
    var start: Int
    var end: Int
    var line: Int
    var text: String
}

/// The text as Unicode scalars (libyaml counts columns in them), with the offset of each line.
struct SourceText {
    let scalars: [Unicode.Scalar]
    let lineStarts: [Int]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        var starts = [0]
        for (i, s) in scalars.enumerated() where s == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    func offset(line: Int, column: Int) -> Int? {
        guard line >= 1, line <= lineStarts.count, column >= 1 else { return nil }
        let offset = lineStarts[line - 1] + column - 1
        return offset < scalars.count ? offset : nil
    }

    /// Characters a plain scalar may hold anywhere after its first, in block and flow context alike.
    static let plainSafe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/+=@%*".unicodeScalars)

    /// `value` can be written as a plain scalar (after the key of a list item, or as a mapping's
    /// value when `leading`): nothing that ends or changes a plain scalar, no ": ", no null.
    static func isPlain(_ value: String, leading: Bool) -> Bool {
        guard !value.isEmpty, !value.hasSuffix(":"), value.unicodeScalars.allSatisfy(plainSafe.contains) else { return false }
        if !leading { return true }
        guard let first = value.unicodeScalars.first, CharacterSet.alphanumerics.contains(first) else { return false }
        return !["null", "Null", "NULL", "true", "false", "True", "False", "TRUE", "FALSE", "yes", "no", "on", "off"].contains(value)
    }

    /// Characters a quoted scalar must escape to keep them as they are: line breaks (YAML's too),
    /// other controls, the byte order mark.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x85 || scalar.value == 0x2028 || scalar.value == 0x2029
            || scalar.value == 0xfeff
    }

    /// `value` as a double-quoted scalar that reads back as exactly `value`.
    static func doubleQuoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default:
                if needsEscape(scalar) { out += String(format: "\\u%04X", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// Where `node` (a scalar) is written and the text that writes `newValue` there instead; nil
    /// when its extent is not certain.
    func replacement(for node: Node, form: ComposeRedaction.Form, newValue: String) -> Replacement? {
        guard let scalar = node.scalar, let mark = scalar.mark, let start = offset(line: mark.line, column: mark.column) else { return nil }
        let quoted: String
        switch form {
        case .mapValue: quoted = Self.doubleQuoted(newValue)
        case .listItem(let key):
            let item = key + "=" + newValue
            quoted = item.unicodeScalars.contains(where: Self.needsEscape) ? Self.doubleQuoted(item)
                : "'" + item.replacingOccurrences(of: "'", with: "''") + "'"
        }
        switch scalar.style {
        case .plain, .any:
            let value = Array(scalar.string.unicodeScalars)
            guard start + value.count <= scalars.count, Array(scalars[start..<(start + value.count)]) == value else { return nil }
            // A plain entry stays plain where the new value allows: `KEY=***`, `KEY: sealed:v1:…`.
            let plain: String
            switch form {
            case .listItem(let key): plain = Self.isPlain(newValue, leading: false) ? key + "=" + newValue : quoted
            case .mapValue: plain = Self.isPlain(newValue, leading: true) ? newValue : quoted
            }
            return Replacement(start: start, end: start + value.count, line: mark.line, text: plain)
        case .singleQuoted:
            guard scalars[start] == "'" else { return nil }
            var i = start + 1
            while i < scalars.count {
                if scalars[i] == "'" {
                    if i + 1 < scalars.count, scalars[i + 1] == "'" { i += 2; continue }
                    return Replacement(start: start, end: i + 1, line: mark.line, text: quoted)
                }
                i += 1
            }
            return nil
        case .doubleQuoted:
            guard scalars[start] == "\"" else { return nil }
            var i = start + 1
            while i < scalars.count {
                if scalars[i] == "\\" { i += 2; continue }
                if scalars[i] == "\"" { return Replacement(start: start, end: i + 1, line: mark.line, text: quoted) }
                i += 1
            }
            return nil
        case .literal, .folded:
            guard scalars[start] == "|" || scalars[start] == ">" else { return nil }
            // The block: the lines after the header indented more than the header's line (blank
            // lines inside it included).
            let headerLine = mark.line
            let indent = indentation(ofLine: headerLine)
            var last = headerLine
            var line = headerLine + 1
            while line <= lineStarts.count {
                let content = self.line(line)
                if content.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { line += 1; continue }
                guard indentation(ofLine: line) > indent else { break }
                last = line
                line += 1
            }
            let end = last < lineStarts.count ? lineStarts[last] - 1 : scalars.count
            return Replacement(start: start, end: end, line: mark.line, text: quoted)
        }
    }

    func line(_ number: Int) -> ArraySlice<Unicode.Scalar> {
        let start = lineStarts[number - 1]
        let end = number < lineStarts.count ? lineStarts[number] - 1 : scalars.count
        return scalars[start..<max(start, end)]
    }

    func indentation(ofLine number: Int) -> Int {
        line(number).prefix { $0 == " " }.count
    }

    /// The text with each replacement made; nil when two overlap.
    func applying(_ replacements: [Replacement]) -> String? {
        var out = String.UnicodeScalarView()
        var at = 0
        for r in replacements {
            guard r.start >= at, r.end >= r.start, r.end <= scalars.count else { return nil }
            out.append(contentsOf: scalars[at..<r.start])
            out.append(contentsOf: r.text.unicodeScalars)
            at = r.end
        }
        out.append(contentsOf: scalars[at...])
        return String(out)
    }
}
