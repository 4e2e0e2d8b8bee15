import Foundation
import CaaSModel

/// Placement constraints in the two syntaxes compose files carry.
///
/// Swarm mode (`deploy.placement.constraints`): `node.labels.az == 2`, `node.hostname != web-1`,
/// `node.id == abc`; `engine.labels.K` is read as the node label `K` (caas has one label set per node).
///
/// Swarm classic, written as environment entries, as Swarm classic and the original product read
/// them: `constraint:KEY==VALUE` (`KEY` `node` is the node name, any other key a node label),
/// `availability:az==2` (the node label `az`), with `!=`, `/regex/` values and `*` globs.
/// `affinity:` entries and soft constraints (`==~`) are recognised and dropped with a warning.
enum ConstraintSyntax {
    enum Outcome: Equatable {
        case constraint(PlacementConstraint)
        /// Understood but not supported: dropped, with this warning.
        case ignored(String)
    }

    struct Failure: Error, Equatable {
        var message: String
    }

    /// Environment entries that are placement rather than variables.
    static let environmentPrefixes = ["constraint:", "affinity:", "availability:"]

    static func isEnvironmentConstraint(_ text: String) -> Bool {
        environmentPrefixes.contains { text.hasPrefix($0) }
    }

    /// `node.labels.az == 2` and friends.
    static func parseSwarmMode(_ text: String) throws(Failure) -> PlacementConstraint {
        let (lhs, op, rhs) = try split(text)
        let attribute: PlacementConstraint.Attribute
        switch lhs {
        case "node.id": attribute = .nodeID
        case "node.hostname": attribute = .nodeName
        default:
            if let label = dropPrefix(lhs, "node.labels.") ?? dropPrefix(lhs, "engine.labels.") {
                attribute = .nodeLabel(label)
            } else if ["node.role", "node.platform.os", "node.platform.arch"].contains(lhs) {
                throw Failure(message: "constraint attribute '\(lhs)' is not supported by caas (use node.labels.*, node.hostname or node.id)")
            } else {
                throw Failure(message: "unknown constraint attribute '\(lhs)' (expected node.labels.*, engine.labels.*, node.hostname or node.id)")
            }
        }
        return PlacementConstraint(attribute: attribute, op: op, value: try value(rhs, globs: false), source: text)
    }

    /// `constraint:…`, `availability:…`, `affinity:…`.
    static func parseEnvironment(_ text: String) throws(Failure) -> Outcome {
        if text.hasPrefix("affinity:") {
            return .ignored("'\(text)': affinity rules are not supported by caas; ignored")
        }
        let isAvailability = text.hasPrefix("availability:")
        let body = String(text.dropFirst(isAvailability ? "availability:".count : "constraint:".count))
        if body.contains("==~") || body.contains("!=~") {
            return .ignored("'\(text)': soft constraints are not supported by caas; ignored")
        }
        let (key, op, rhs) = try split(body)
        let attribute: PlacementConstraint.Attribute = (!isAvailability && key == "node") ? .nodeName : .nodeLabel(key)
        return .constraint(PlacementConstraint(attribute: attribute, op: op, value: try value(rhs, globs: true), source: text))
    }

    /// `spread: node.labels.az` → `az`.
    static func parseSpread(_ text: String) throws(Failure) -> String {
        let t = text.trimmingSpaces
        if let label = dropPrefix(t, "node.labels.") ?? dropPrefix(t, "engine.labels."), !label.isEmpty {
            return label
        }
        throw Failure(message: "cannot spread over '\(text)' (expected node.labels.NAME)")
    }

    private static func dropPrefix(_ text: String, _ prefix: String) -> String? {
        text.hasPrefix(prefix) && text.count > prefix.count ? String(text.dropFirst(prefix.count)) : nil
    }

    private static func split(_ text: String) throws(Failure) -> (String, PlacementConstraint.Operator, String) {
        let ops: [(String, PlacementConstraint.Operator)] = [("==", .equal), ("!=", .notEqual)]
        for (token, op) in ops {
            if let range = text.range(of: token) {
                let lhs = String(text[..<range.lowerBound]).trimmingSpaces
                let rhs = String(text[range.upperBound...]).trimmingSpaces
                guard !lhs.isEmpty else { throw Failure(message: "'\(text)': missing the attribute before '\(token)'") }
                guard !rhs.isEmpty else { throw Failure(message: "'\(text)': missing the value after '\(token)'") }
                guard !lhs.contains(" "), !lhs.contains("=") else { throw Failure(message: "'\(text)' is not a constraint: expected ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE") }
                return (lhs, op, rhs)
            }
        }
        throw Failure(message: "'\(text)' is not a constraint: expected ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE")
    }

    private static func value(_ text: String, globs: Bool) throws(Failure) -> PlacementConstraint.Value {
        if text.count >= 2, text.hasPrefix("/"), text.hasSuffix("/") {
            let pattern = String(text.dropFirst().dropLast())
            do {
                _ = try Regex(pattern)
            } catch {
                throw Failure(message: "'\(text)' is not a valid regular expression")
            }
            return .pattern(pattern)
        }
        if globs, text.contains("*") || text.contains("?") {
            return .pattern(globToRegex(text))
        }
        return .exact(text)
    }

    /// `web-*` → `web\-.*`.
    static func globToRegex(_ glob: String) -> String {
        var out = ""
        for c in glob {
            switch c {
            case "*": out += ".*"
            case "?": out += "."
            case _ where c.isLetter || c.isNumber || c == "_": out.append(c)
            default: out += "\\" + String(c)
            }
        }
        return out
    }
}
