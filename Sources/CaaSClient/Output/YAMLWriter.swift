/// JSON values as YAML (block style, sorted keys), for `-o yaml`. Strings that YAML would read
/// as something else (numbers, booleans, null, text with `:` or `#`, leading spaces, …) are
/// double-quoted.
public enum YAMLWriter {
    public static func write(_ value: JSON) -> String {
        var lines: [String] = []
        emit(value, indent: 0, into: &lines, prefix: nil)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func emit(_ value: JSON, indent: Int, into lines: inout [String], prefix: String?) {
        let pad = String(repeating: "  ", count: indent)
        switch value {
        case .object(let members) where !members.isEmpty:
            var first = prefix
            for key in members.keys.sorted() {
                let member = members[key]!
                let head = first.map { $0 } ?? pad
                first = nil
                let keyText = scalar(key)
                if isScalar(member) {
                    lines.append("\(head)\(keyText): \(inline(member, indent: indent + 1))")
                } else {
                    lines.append("\(head)\(keyText):")
                    if case .array = member {
                        emit(member, indent: indent, into: &lines, prefix: nil)
                    } else {
                        emit(member, indent: indent + 1, into: &lines, prefix: nil)
                    }
                }
            }
        case .array(let items) where !items.isEmpty:
            for item in items {
                if isScalar(item) {
                    lines.append("\(pad)- \(inline(item, indent: indent + 1))")
                } else {
                    emit(item, indent: indent + 1, into: &lines, prefix: "\(pad)- ")
                }
            }
        default:
            lines.append((prefix ?? pad) + inline(value, indent: indent + 1))
        }
    }

    private static func isScalar(_ value: JSON) -> Bool {
        switch value {
        case .object(let members): members.isEmpty
        case .array(let items): items.isEmpty
        default: true
        }
    }

    private static func inline(_ value: JSON, indent: Int) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .integer, .number: return value.displayText
        case .string(let text):
            if text.contains("\n") {
                // A literal block keeps compose text readable.
                let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
                return "|" + (text.hasSuffix("\n") ? "" : "-") + "\n" + body.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.isEmpty ? "" : String(repeating: "  ", count: indent) + $0 }.joined(separator: "\n")
            }
            return scalar(text)
        case .object: return "{}"
        case .array: return "[]"
        }
    }

    static func scalar(_ text: String) -> String {
        let reserved: Set<String> = ["", "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
                                     "yes", "Yes", "no", "No", "on", "On", "off", "Off", "y", "n"]
        let special = ":#{}[],&*!|>'\"%@`"
        let needsQuotes = reserved.contains(text) || Double(text) != nil || text.first.map { special.contains($0) || $0 == " " || $0 == "-" || $0 == "?" } == true
            || text.last == " " || text.allSatisfy({ "0123456789:._+-".contains($0) }) || text.contains(": ") || text.contains(" #") || text.unicodeScalars.contains { $0.value < 32 }
        guard needsQuotes else { return text }
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 32 {
                    let hex = String(scalar.value, radix: 16)
                    escaped += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }
}
