/// What one node's name service answers, and to whom: each client address (a container on the
/// node) belongs to a scope (its application's service), and each scope has its own names. A
/// container asking for a name of another scope — another application's, another tenant's —
/// finds nothing here and is forwarded like any outside name.
///
/// The agent writes the table as text; the server reads it. One line per fact, fields split by
/// spaces, and a closing `end` line, so a file caught half-written is never taken:
///
///     client 198.18.64.3 app_1/web
///     a app_1/web db 198.18.64.5 198.18.65.9
///     cname app_1/web rds rds-1.example.com
///     end
public struct NameTable: Sendable, Equatable {
    public enum Answer: Sendable, Equatable {
        /// IPv4 addresses (the containers serving the name; none while none serves).
        case addresses([[UInt8]])
        /// Another name (an external service's host), resolved upstream.
        case alias([String])
    }

    /// Client address (4 bytes) → scope.
    public private(set) var clients: [[UInt8]: String] = [:]
    /// Scope → lowercased name → answer.
    public private(set) var names: [String: [String: Answer]] = [:]

    public init() {}

    public mutating func addClient(_ address: String, scope: String) {
        guard let bytes = Self.ipv4(address) else { return }
        clients[bytes] = scope
    }

    /// Adds addresses to `name` in `scope` (a name first added with none stays, answering none).
    public mutating func addAddresses(_ addresses: [String], name: String, scope: String) {
        let key = name.lowercasedASCII
        var existing: [[UInt8]] = []
        if case .addresses(let known)? = names[scope]?[key] { existing = known }
        for address in addresses {
            if let bytes = Self.ipv4(address), !existing.contains(bytes) { existing.append(bytes) }
        }
        names[scope, default: [:]][key] = .addresses(existing)
    }

    /// `name` in `scope` is `target`: an IPv4 address answers as one, a host name as an alias.
    public mutating func addAlias(_ target: String, name: String, scope: String) {
        if Self.ipv4(target) != nil {
            addAddresses([target], name: name, scope: scope)
            return
        }
        let labels = Self.labels(target)
        guard !labels.isEmpty else { return }
        names[scope, default: [:]][name.lowercasedASCII] = .alias(labels)
    }

    /// What `name` means to the container at `client`; nil when the name is not the service's.
    public func answer(_ labels: [String], client: [UInt8]) -> Answer? {
        guard let scope = clients[client] else { return nil }
        return names[scope]?[labels.joined(separator: ".")]
    }

    // MARK: Text

    public func rendered() -> String {
        var lines: [String] = []
        for (address, scope) in clients.sorted(by: { $0.value == $1.value ? $0.key.lexicographicallyPrecedes($1.key) : $0.value < $1.value }) {
            lines.append("client \(Self.format(address)) \(scope)")
        }
        for scope in names.keys.sorted() {
            for (name, answer) in names[scope]!.sorted(by: { $0.key < $1.key }) {
                switch answer {
                case .addresses(let addresses):
                    lines.append((["a", scope, name] + addresses.map(Self.format)).joined(separator: " "))
                case .alias(let target):
                    lines.append("cname \(scope) \(name) \(target.joined(separator: "."))")
                }
            }
        }
        lines.append("end")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The table of a complete text (one that ends with `end`); nil for anything else. Lines that
    /// do not parse are skipped.
    public static func parse(_ text: String) -> NameTable? {
        var table = NameTable()
        var ended = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ").map(String.init)
            guard let kind = fields.first, !ended else { return nil }
            switch kind {
            case "end" where fields.count == 1:
                ended = true
            case "client" where fields.count == 3:
                table.addClient(fields[1], scope: fields[2])
            case "a" where fields.count >= 3:
                table.addAddresses(Array(fields.dropFirst(3)), name: fields[2], scope: fields[1])
            case "cname" where fields.count == 4:
                table.addAlias(fields[3], name: fields[2], scope: fields[1])
            default:
                continue
            }
        }
        return ended ? table : nil
    }

    // MARK: Addresses and names

    public static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    public static func format(_ address: [UInt8]) -> String {
        address.map(String.init).joined(separator: ".")
    }

    /// Lowercased labels of a host name (a trailing dot allowed); empty when it is not one.
    public static func labels(_ name: String) -> [String] {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false).map { String($0).lowercasedASCII }
        guard !labels.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }), text.utf8.count <= 253 else { return [] }
        return labels
    }
}
