/// The decoded `name=value` pairs of a query string (`+` is a space), in order.
public struct QueryParameters: Sendable, Sequence {
    public private(set) var pairs: [(name: String, value: String)] = []

    public init(_ query: String?) {
        guard let query, !query.isEmpty else { return }
        for part in query.utf8.split(separator: UInt8(ascii: "&")) {
            let name: String?, value: String?
            if let equals = part.firstIndex(of: UInt8(ascii: "=")) {
                name = percentDecode(part[..<equals], plusAsSpace: true)
                value = percentDecode(part[part.index(after: equals)...], plusAsSpace: true)
            } else {
                name = percentDecode(part, plusAsSpace: true)
                value = ""
            }
            if let name, let value { pairs.append((name, value)) }
        }
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    public func values(for name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// The value of `name`, or a 400 problem naming it.
    public func require(_ name: String) throws -> String {
        guard let value = self[name] else {
            throw HTTPError(.badRequest, detail: "Missing query parameter '\(name)'.", errors: [.init(path: name, detail: "is required")])
        }
        return value
    }

    /// The converted value of `name` if present, or a 400 problem when it does not convert.
    public func get<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws -> T? {
        guard let text = self[name] else { return nil }
        guard let value = T(text) else {
            throw HTTPError(.badRequest, detail: "Query parameter '\(name)' is not a valid \(T.self).",
                            errors: [.init(path: name, detail: "must be a valid \(T.self)")])
        }
        return value
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { pairs.makeIterator() }
}

extension HTTPRequest {
    /// The decoded query parameters.
    public var queryParameters: QueryParameters { QueryParameters(query) }
}
