/// A small JSON Schema subset that request bodies are checked against before any handler runs:
/// unknown members are rejected by name, wrong types by JSON pointer.
public indirect enum JSONSchema: Sendable {
    case string(maxLength: Int = 4096)
    /// A DNS-label-like resource name (see `ResourceName`).
    case name
    /// RFC 3339 date-time text.
    case dateTime
    case integer(minimum: Int64? = nil, maximum: Int64? = nil)
    case boolean
    case enumeration([String])
    case array(JSONSchema, maxItems: Int = 1000)
    case object(properties: [String: JSONSchema], required: Set<String> = [])
    /// Any object with string-valued members (labels, environment).
    case stringMap
    case nullable(JSONSchema)
    case any
}

/// One reason a body was rejected; `pointer` is an RFC 6901 JSON pointer into the body.
public struct FieldError: Sendable, Equatable, Codable, CustomStringConvertible {
    public var pointer: String
    public var detail: String

    public init(pointer: String, detail: String) {
        self.pointer = pointer
        self.detail = detail
    }

    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(detail)" }
}

extension JSONSchema {
    /// Every reason `value` does not fit, in a stable order (members sorted by name).
    public func validate(_ value: JSONValue, at pointer: String = "") -> [FieldError] {
        switch self {
        case .any:
            return []
        case .nullable(let inner):
            return value == .null ? [] : inner.validate(value, at: pointer)
        case .string(let maxLength):
            guard case .string(let text) = value else { return [mismatch("string", value, pointer)] }
            if text.count > maxLength { return [FieldError(pointer: pointer, detail: "longer than \(maxLength) characters")] }
            return []
        case .name:
            guard case .string(let text) = value else { return [mismatch("string", value, pointer)] }
            if let problem = ResourceName.problem(with: text) { return [FieldError(pointer: pointer, detail: problem)] }
            return []
        case .dateTime:
            guard case .string(let text) = value else { return [mismatch("string (RFC 3339 date-time)", value, pointer)] }
            if Timestamp.parse(text) == nil { return [FieldError(pointer: pointer, detail: "not an RFC 3339 date-time: \(text)")] }
            return []
        case .integer(let minimum, let maximum):
            guard case .integer(let number) = value else { return [mismatch("integer", value, pointer)] }
            if let minimum, number < minimum { return [FieldError(pointer: pointer, detail: "must be at least \(minimum)")] }
            if let maximum, number > maximum { return [FieldError(pointer: pointer, detail: "must be at most \(maximum)")] }
            return []
        case .boolean:
            guard case .bool = value else { return [mismatch("boolean", value, pointer)] }
            return []
        case .enumeration(let allowed):
            guard case .string(let text) = value else { return [mismatch("string", value, pointer)] }
            if !allowed.contains(text) {
                return [FieldError(pointer: pointer, detail: "must be one of \(allowed.joined(separator: ", "))")]
            }
            return []
        case .array(let element, let maxItems):
            guard case .array(let items) = value else { return [mismatch("array", value, pointer)] }
            if items.count > maxItems { return [FieldError(pointer: pointer, detail: "more than \(maxItems) items")] }
            return items.enumerated().flatMap { element.validate($1, at: pointer + "/\($0)") }
        case .stringMap:
            guard case .object(let members) = value else { return [mismatch("object", value, pointer)] }
            return members.keys.sorted().compactMap { key in
                members[key]!.stringValue == nil ? mismatch("string", members[key]!, pointer + "/" + escape(key)) : nil
            }
        case .object(let properties, let required):
            guard case .object(let members) = value else { return [mismatch("object", value, pointer)] }
            var errors: [FieldError] = []
            for key in members.keys.sorted() {
                let path = pointer + "/" + escape(key)
                guard let schema = properties[key] else {
                    errors.append(FieldError(pointer: path, detail: "unknown field \"\(key)\""))
                    continue
                }
                errors += schema.validate(members[key]!, at: path)
            }
            for key in required.sorted() where members[key] == nil {
                errors.append(FieldError(pointer: pointer + "/" + escape(key), detail: "required field \"\(key)\" is missing"))
            }
            return errors
        }
    }

    /// The same object schema with every member optional and nullable: what a merge patch may say.
    public var patchSchema: JSONSchema {
        guard case .object(let properties, _) = self else { return self }
        var patched: [String: JSONSchema] = [:]
        for (key, schema) in properties {
            switch schema {
            case .object: patched[key] = .nullable(schema.patchSchema)
            case .nullable: patched[key] = schema
            default: patched[key] = .nullable(schema)
            }
        }
        return .object(properties: patched)
    }

    private func mismatch(_ expected: String, _ value: JSONValue, _ pointer: String) -> FieldError {
        FieldError(pointer: pointer, detail: "expected \(expected), got \(value.typeName)")
    }

    private func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
