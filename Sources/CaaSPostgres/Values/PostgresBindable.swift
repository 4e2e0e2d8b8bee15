import Foundation

/// A Swift value that can be sent to PostgreSQL as a bound parameter (`$1`, `$2`, …).
///
/// Values always travel separately from the SQL text (`PQexecParams`); this layer has no API
/// that puts a value into SQL text. Values are sent in PostgreSQL's text input format with the
/// type given by `postgresDataType` (`.unspecified` lets the server infer it from context).
public protocol PostgresBindable: Sendable {
    /// The parameter's type as declared to the server.
    static var postgresDataType: PostgresDataType { get }
    /// The value in PostgreSQL's text input format; nil sends SQL NULL.
    func postgresText() throws -> String?
}

/// Types that may be elements of a one-dimensional array parameter or column.
public protocol PostgresArrayElement: PostgresBindable, PostgresDecodable {}

extension String: PostgresBindable {
    /// Unspecified, so `WHERE id = $1` works for `text`, `uuid`, enum and `jsonb` columns alike.
    public static var postgresDataType: PostgresDataType { .unspecified }
    public func postgresText() throws -> String? { self }
}

extension Substring: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .unspecified }
    public func postgresText() throws -> String? { String(self) }
}

extension Int: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public func postgresText() throws -> String? { String(self) }
}

extension Int64: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public func postgresText() throws -> String? { String(self) }
}

extension Int32: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .int4 }
    public func postgresText() throws -> String? { String(self) }
}

extension Bool: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .bool }
    public func postgresText() throws -> String? { self ? "t" : "f" }
}

extension Double: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .float8 }
    public func postgresText() throws -> String? { PostgresTextFormat.formatDouble(self) }
}

extension Date: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .timestamptz }
    public func postgresText() throws -> String? { PostgresTextFormat.formatTimestamp(self) }
}

extension UUID: PostgresBindable {
    public static var postgresDataType: PostgresDataType { .uuid }
    public func postgresText() throws -> String? { uuidString.lowercased() }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public static var postgresDataType: PostgresDataType { Wrapped.postgresDataType }
    public func postgresText() throws -> String? {
        switch self {
        case .none: return nil
        case .some(let value): return try value.postgresText()
        }
    }
}

extension String: PostgresArrayElement {}
extension Int: PostgresArrayElement {}
extension Int64: PostgresArrayElement {}
extension Int32: PostgresArrayElement {}
extension Bool: PostgresArrayElement {}
extension Double: PostgresArrayElement {}
extension Date: PostgresArrayElement {}
extension UUID: PostgresArrayElement {}
extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {}

extension UInt8: PostgresBindable {
    /// Alone, a byte is a `smallint`; `[UInt8]` is `bytea` (see the `Array` conformance).
    public static var postgresDataType: PostgresDataType { .int2 }
    public func postgresText() throws -> String? { String(self) }
}

extension UInt8: PostgresArrayElement {}

/// Arrays are one-dimensional PostgreSQL arrays — `text[]` for `[String]`, `bigint[]` for
/// `[Int]`, `[String?]` for arrays with NULL elements — except `[UInt8]`, which is `bytea`.
///
/// (Swift allows one conformance of `Array` to a protocol, so the `bytea` case is decided by
/// the element type at run time.)
extension Array: PostgresBindable where Element: PostgresArrayElement {
    static var isBytes: Bool { Element.self == UInt8.self }

    public static var postgresDataType: PostgresDataType {
        isBytes ? .bytea : (Element.postgresDataType.arrayType ?? .unspecified)
    }

    public func postgresText() throws -> String? {
        if Self.isBytes, let bytes = self as? [UInt8] { return PostgresTextFormat.formatBytea(bytes) }
        return PostgresTextFormat.formatArray(try map { try $0.postgresText() })
    }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> [Element] {
        if isBytes {
            guard type == .bytea || type == .unknown else { throw PostgresDecodingFailure.wrongType(type, Self.self) }
            do {
                return try PostgresTextFormat.parseBytea(bytes) as! [Element]
            } catch let failure as PostgresTextFormat.Failure {
                throw PostgresDecodingFailure(failure.description)
            }
        }
        let elementType: PostgresDataType
        if let known = type.arrayElementType {
            elementType = known
        } else if type.isUserDefined || type == .unknown {
            elementType = .unknown
        } else {
            throw PostgresDecodingFailure.wrongType(type, Self.self)
        }
        let raw: [[UInt8]?]
        do {
            raw = try PostgresTextFormat.parseArray(bytes)
        } catch let failure as PostgresTextFormat.Failure {
            throw PostgresDecodingFailure(failure.description)
        }
        return try raw.enumerated().map { index, element in
            do {
                guard let element else { return try Element.decodeNull() }
                return try Element.decode(postgresText: element, type: elementType)
            } catch let failure as PostgresDecodingFailure {
                throw PostgresDecodingFailure("array element \(index + 1): \(failure.reason)")
            }
        }
    }
}
