import Foundation

/// The compose document as caas reads it: YAML after alias expansion, merge keys and interpolation,
/// each node carrying its path (`services.web.ports[1]`) and position for diagnostics.
struct YNode: Sendable {
    enum Value: Sendable {
        case scalar(YScalar)
        case mapping([YEntry])
        case sequence([YNode])
    }

    var value: Value
    var path: String
    var line: Int
    var column: Int

    var scalar: YScalar? {
        if case .scalar(let s) = value { return s }
        return nil
    }

    var entries: [YEntry]? {
        if case .mapping(let e) = value { return e }
        return nil
    }

    var items: [YNode]? {
        if case .sequence(let i) = value { return i }
        return nil
    }

    var isNull: Bool { scalar?.isNull ?? false }

    /// The value of `key` in a mapping (the last one, should YAML merging have repeated it).
    subscript(key: String) -> YNode? {
        entries?.last { $0.key == key }?.value
    }

    func entry(_ key: String) -> YEntry? {
        entries?.last { $0.key == key }
    }

    /// A human name for the node's kind, for "expected X, found Y" messages.
    var kindName: String {
        switch value {
        case .scalar(let s): return s.isNull ? "null" : "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

struct YScalar: Sendable {
    /// The value after interpolation.
    var text: String
    /// A plain `~`, `null` or empty scalar as written (before interpolation).
    var isNull: Bool
    /// Written quoted or as a block scalar: never a number, boolean or null.
    var isQuoted: Bool
}

struct YEntry: Sendable {
    var key: String
    var keyLine: Int
    var keyColumn: Int
    var value: YNode
}

enum YPath {
    /// `parent.key`, or `parent["key"]` when the key is not a simple identifier.
    static func child(_ parent: String, _ key: String) -> String {
        let simple = !key.isEmpty && key.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "-": return true
            default: return false
            }
        }
        let part = simple ? key : "[\"" + key.replacingOccurrences(of: "\"", with: "\\\"") + "\"]"
        if parent.isEmpty { return part }
        return simple ? parent + "." + part : parent + part
    }

    static func index(_ parent: String, _ index: Int) -> String {
        parent + "[\(index)]"
    }
}
