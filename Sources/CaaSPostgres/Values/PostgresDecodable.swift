import Foundation

/// A Swift type that a column value (in PostgreSQL's text output format) decodes into.
///
/// Conforming types check the column's type: an `int8` column does not silently decode into a
/// `Bool`. `Optional` decodes SQL NULL as nil; every other type refuses NULL.
public protocol PostgresDecodable: Sendable {
    /// Decodes a non-NULL value from its text representation.
    static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Self
    /// The value for SQL NULL; the default throws (`NULL into a non-optional`).
    static func decodeNull() throws -> Self
}

extension PostgresDecodable {
    public static func decodeNull() throws -> Self {
        throw PostgresDecodingFailure("NULL cannot be decoded into non-optional \(Self.self)")
    }
}

/// Why one value did not decode; rows turn it into a `PostgresError` of kind `.decoding` that
/// names the column.
public struct PostgresDecodingFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }

    static func wrongType(_ type: PostgresDataType, _ swiftType: Any.Type) -> PostgresDecodingFailure {
        PostgresDecodingFailure("a column of type \(type) cannot be decoded as \(swiftType)")
    }

    static func malformed(_ bytes: [UInt8], _ swiftType: Any.Type) -> PostgresDecodingFailure {
        let text = String(decoding: bytes.prefix(100), as: UTF8.self)
        return PostgresDecodingFailure("'\(text)' is not a valid \(swiftType)")
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Wrapped? {
        try Wrapped.decode(postgresText: bytes, type: type)
    }

    public static func decodeNull() throws -> Wrapped? { nil }
}

extension String: PostgresDecodable {
    /// Types whose text form is not a string in the Swift sense: decoding them as `String` is
    /// almost always a mistake (decode as `Int`, `Bool`, `Date`, `[UInt8]`, arrays…).
    private static let refused: Set<PostgresDataType> = [
        .bool, .bytea, .int2, .int4, .int8, .float4, .float8, .date, .timestamp, .timestamptz,
        .boolArray, .byteaArray, .nameArray, .int2Array, .int4Array, .textArray, .bpcharArray,
        .varcharArray, .int8Array, .float4Array, .float8Array, .timestampArray, .timestamptzArray,
        .numericArray, .uuidArray, .jsonArray, .jsonbArray,
    ]

    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> String {
        guard !refused.contains(type) else { throw PostgresDecodingFailure.wrongType(type, String.self) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func decodeInteger<T: FixedWidthInteger>(_ bytes: [UInt8], _ type: PostgresDataType, as: T.Type) throws -> T {
    guard [.int2, .int4, .int8, .oidType, .unknown].contains(type) else {
        throw PostgresDecodingFailure.wrongType(type, T.self)
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let value = T(text) else {
        if Int64(text) != nil { throw PostgresDecodingFailure("\(text) does not fit in \(T.self)") }
        throw PostgresDecodingFailure.malformed(bytes, T.self)
    }
    return value
}

extension Int: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Int {
        try decodeInteger(bytes, type, as: Int.self)
    }
}

extension Int64: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Int64 {
        try decodeInteger(bytes, type, as: Int64.self)
    }
}

extension Int32: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Int32 {
        try decodeInteger(bytes, type, as: Int32.self)
    }
}

extension UInt8: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> UInt8 {
        try decodeInteger(bytes, type, as: UInt8.self)
    }
}

extension Bool: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Bool {
        guard type == .bool || type == .unknown else { throw PostgresDecodingFailure.wrongType(type, Bool.self) }
        switch bytes {
        case [UInt8(ascii: "t")]: return true
        case [UInt8(ascii: "f")]: return false
        default: throw PostgresDecodingFailure.malformed(bytes, Bool.self)
        }
    }
}

extension Double: PostgresDecodable {
    /// From `float8`, `float4`, and (with possible loss of precision) `numeric` and integers.
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Double {
        guard [.float8, .float4, .numeric, .int2, .int4, .int8, .unknown].contains(type) else {
            throw PostgresDecodingFailure.wrongType(type, Double.self)
        }
        do {
            return try PostgresTextFormat.parseDouble(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw PostgresDecodingFailure.malformed(bytes, Double.self)
        }
    }
}

extension Date: PostgresDecodable {
    /// From `timestamptz` (any UTC offset), `timestamp` (taken as UTC) and `date` (midnight UTC).
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> Date {
        guard [.timestamptz, .timestamp, .date, .unknown].contains(type) else {
            throw PostgresDecodingFailure.wrongType(type, Date.self)
        }
        do {
            return try PostgresTextFormat.parseTimestamp(String(decoding: bytes, as: UTF8.self))
        } catch let failure as PostgresTextFormat.Failure {
            throw PostgresDecodingFailure(failure.description)
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> UUID {
        guard [.uuid, .text, .varchar, .bpchar, .unknown].contains(type) else {
            throw PostgresDecodingFailure.wrongType(type, UUID.self)
        }
        guard let uuid = UUID(uuidString: String(decoding: bytes, as: UTF8.self)) else {
            throw PostgresDecodingFailure.malformed(bytes, UUID.self)
        }
        return uuid
    }
}
