import Foundation

/// A `Codable` value stored as `jsonb` (or read from `json`/`jsonb`/`text`).
///
/// ```swift
/// try conn.execute("INSERT INTO apps (id, spec) VALUES ($1, $2)", [id, PostgresJSON(spec)])
/// let spec = try row.decode("spec", as: PostgresJSON<AppSpec>.self).value
/// ```
/// Encoding uses a plain `JSONEncoder` (dates as the encoder's default unless the type encodes
/// them itself); keys are sorted so equal values give equal text.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresBindable, PostgresDecodable {
    public var value: Value

    public init(_ value: Value) { self.value = value }

    public static var postgresDataType: PostgresDataType { .jsonb }

    public func postgresText() throws -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw PostgresError(kind: .encoding, message: "cannot encode \(Value.self) as JSON: \(error)")
        }
    }

    public static func decode(postgresText bytes: [UInt8], type: PostgresDataType) throws -> PostgresJSON<Value> {
        guard [.jsonb, .json, .text, .varchar, .unknown].contains(type) || type.isUserDefined else {
            throw PostgresDecodingFailure.wrongType(type, Self.self)
        }
        do {
            return PostgresJSON(try JSONDecoder().decode(Value.self, from: Data(bytes)))
        } catch {
            throw PostgresDecodingFailure("invalid JSON for \(Value.self): \(error)")
        }
    }
}

extension PostgresJSON: Equatable where Value: Equatable {}
