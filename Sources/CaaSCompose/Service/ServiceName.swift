/// Service names.
///
/// Compose accepts `[a-zA-Z0-9._-]+`. caas reaches services by name over DNS, so a name must also
/// be a DNS label: lowercase letters, digits and `-`, starting and ending with a letter or digit,
/// at most 63 characters (`[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`). Anything else is an error that
/// says which rule it breaks.
enum ServiceName {
    static func problem(_ name: String) -> String? {
        if name.isEmpty { return "a service name cannot be empty" }
        let composeCharset = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
        if !composeCharset {
            return "service name '\(name)' may only contain letters, digits, '.', '_' and '-'"
        }
        if name.count > 63 {
            return "service name '\(name)' is longer than 63 characters, the limit of a DNS label"
        }
        if name.contains(where: \.isUppercase) {
            return "service name '\(name)' must be lowercase: services are reached by name over DNS (try '\(name.lowercased())')"
        }
        if name.contains("_") || name.contains(".") {
            return "service name '\(name)' cannot become a DNS label: use '-' instead of '_' or '.'"
        }
        if name.hasPrefix("-") || name.hasSuffix("-") {
            return "service name '\(name)' must start and end with a letter or digit"
        }
        return nil
    }

    /// A network alias (or links alias) is a host name: dot-separated labels of letters, digits,
    /// `-` and `_`, each 1 to 63 long and not starting or ending with `-`, 253 in all.
    static func aliasProblem(_ alias: String) -> String? {
        let labels = alias.split(separator: ".", omittingEmptySubsequences: false)
        let fine = alias.utf8.count <= 253 && labels.allSatisfy { label in
            (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
        return fine ? nil : "'\(alias)' is not a host name: dot-separated labels of letters, digits, '-' and '_', each at most 63 long and not starting or ending with '-'"
    }
}
