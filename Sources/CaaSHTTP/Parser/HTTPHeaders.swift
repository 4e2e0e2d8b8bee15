/// An ordered list of header fields with case-insensitive lookup by name.
///
/// Order and duplicates are kept exactly as received (or added); lookups compare names
/// ASCII-case-insensitively without allocating.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible, Equatable {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    public private(set) var fields: [Field]

    public init() { fields = [] }
    public init(_ pairs: [(String, String)]) { fields = pairs.map { Field(name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { fields = elements.map { Field(name: $0.0, value: $0.1) } }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }

    /// The first value of the named field; setting replaces every field of that name (nil removes).
    public subscript(name: String) -> String? {
        get {
            for field in fields where HTTPHeaders.namesEqual(field.name, name) { return field.value }
            return nil
        }
        set {
            if let newValue { replaceOrAdd(name: name, value: newValue) } else { remove(name: name) }
        }
    }

    /// Every value of the named field, in order.
    public func values(for name: String) -> [String] {
        fields.compactMap { HTTPHeaders.namesEqual($0.name, name) ? $0.value : nil }
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { HTTPHeaders.namesEqual($0.name, name) }
    }

    public mutating func add(name: String, value: String) { fields.append(Field(name: name, value: value)) }

    public mutating func replaceOrAdd(name: String, value: String) {
        if let index = fields.firstIndex(where: { HTTPHeaders.namesEqual($0.name, name) }) {
            fields[index].value = value
            var i = fields.count - 1
            while i > index {
                if HTTPHeaders.namesEqual(fields[i].name, name) { fields.remove(at: i) }
                i -= 1
            }
        } else {
            add(name: name, value: value)
        }
    }

    public mutating func remove(name: String) { fields.removeAll { HTTPHeaders.namesEqual($0.name, name) } }

    /// The comma-separated list elements of every field with this name, trimmed, empty ones dropped.
    public func listElements(for name: String) -> [Substring] {
        var result: [Substring] = []
        for field in fields where HTTPHeaders.namesEqual(field.name, name) {
            for part in field.value.split(separator: ",", omittingEmptySubsequences: true) {
                let trimmed = part.trimmingOWS()
                if !trimmed.isEmpty { result.append(trimmed) }
            }
        }
        return result
    }

    /// Whether the comma-separated list of the named field contains `token` (case-insensitive).
    public func containsToken(_ token: String, in name: String) -> Bool {
        for field in fields where HTTPHeaders.namesEqual(field.name, name) {
            for part in field.value.split(separator: ",") where HTTPHeaders.namesEqual(part.trimmingOWS(), token) {
                return true
            }
        }
        return false
    }

    /// ASCII case-insensitive comparison of two names (header names and tokens are ASCII).
    @inlinable
    public static func namesEqual<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        let au = a.utf8, bu = b.utf8
        guard au.count == bu.count else { return false }
        var bi = bu.startIndex
        for ca in au {
            let cb = bu[bi]
            bi = bu.index(after: bi)
            if ca == cb { continue }
            let la = (ca >= 0x41 && ca <= 0x5A) ? ca | 0x20 : ca
            let lb = (cb >= 0x41 && cb <= 0x5A) ? cb | 0x20 : cb
            if la != lb { return false }
        }
        return true
    }
}

extension StringProtocol {
    /// Drops leading and trailing spaces and horizontal tabs (HTTP optional whitespace).
    func trimmingOWS() -> SubSequence {
        var start = startIndex, end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start {
            let before = index(before: end)
            guard self[before] == " " || self[before] == "\t" else { break }
            end = before
        }
        return self[start..<end]
    }
}
