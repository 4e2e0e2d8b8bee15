import Foundation

/// The API's JSON conventions: `snake_case` keys and ISO-8601 dates, both ways.
public enum JSONCoding {
    /// A new encoder with the API's conventions (keys sorted, so output is stable).
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A new decoder with the API's conventions.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    static let encoder = makeEncoder()
    static let decoder = makeDecoder()

    /// Whether a `Content-Type` names JSON (`application/json` or `application/…+json`).
    public static func isJSON(contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingOWS() } ?? ""
        if HTTPHeaders.namesEqual(mediaType, "application/json") { return true }
        return mediaType.lowercased().hasPrefix("application/") && mediaType.lowercased().hasSuffix("+json")
    }

    /// Maps a decoding failure to a problem: malformed JSON is 400, a valid document of the wrong
    /// shape is 422 with a JSON pointer to the member (in the request's snake_case names).
    static func problem(for error: DecodingError) -> HTTPError {
        func pointer(_ path: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = last.map { path + [$0] } ?? path
            return keys.map { key -> String in
                let token = key.intValue.map(String.init) ?? snakeCase(key.stringValue)
                return "/" + token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
            }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            let at = pointer(context.codingPath, key)
            return invalid(at, "is required")
        case .valueNotFound(_, let context):
            return invalid(pointer(context.codingPath), "must not be null")
        case .typeMismatch(let type, let context):
            return invalid(pointer(context.codingPath), "must be \(jsonTypeName(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return HTTPError(.badRequest, detail: "The request body is not valid JSON.",
                                 errors: [.init(pointer: "", detail: context.debugDescription)])
            }
            return invalid(pointer(context.codingPath), context.debugDescription)
        @unknown default:
            return HTTPError(.unprocessableContent, detail: "The request body does not match the expected shape.")
        }
    }

    private static func invalid(_ pointer: String, _ detail: String) -> HTTPError {
        HTTPError(.unprocessableContent, detail: "\(pointer.isEmpty ? "The body" : pointer) \(detail).",
                  errors: [.init(pointer: pointer, detail: detail)])
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type, is Decimal.Type: "a number"
        case is Date.Type: "an ISO-8601 date-time string"
        default:
            "\(type)".hasPrefix("Array") ? "an array" : ("\(type)".hasPrefix("Dictionary") ? "an object" : "a valid \(type)")
        }
    }

    /// `camelCase` → `snake_case`, as `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase` does.
    static func snakeCase(_ key: String) -> String {
        let chars = Array(key)
        guard !chars.isEmpty else { return key }
        var result = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase && i > 0 {
                let previousLower = chars[i - 1].isLowercase || chars[i - 1].isNumber
                let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if previousLower || (chars[i - 1].isUppercase && nextLower) { result.append("_") }
            }
            result.append(contentsOf: c.lowercased())
        }
        return result
    }
}

extension HTTPResponse {
    /// A JSON response (`application/json`, snake_case keys, ISO-8601 dates).
    public static func json<T: Encodable>(_ value: T, status: HTTPStatus = .ok, headers: HTTPHeaders = [:]) throws -> HTTPResponse {
        var headers = headers
        headers["Content-Type"] = "application/json"
        return HTTPResponse(status: status, headers: headers, body: .init(bytes: Array(try JSONCoding.encoder.encode(value))))
    }
}

extension HTTPRequest {
    /// Decodes the JSON body. Failures are problems: `415` (not JSON), `413` (over `maxBytes`),
    /// `400` (empty or malformed), `422` (wrong shape, naming the member by JSON pointer).
    public func decode<T: Decodable>(_ type: T.Type = T.self, maxBytes: Int = 1 << 20) async throws -> T {
        guard let contentType = headers["Content-Type"], JSONCoding.isJSON(contentType: contentType) else {
            throw HTTPError(.unsupportedMediaType, detail: "The request body must be application/json.")
        }
        let bytes = try await body.collect(upTo: maxBytes)
        if bytes.isEmpty {
            throw HTTPError(.badRequest, detail: "The request body is empty; a JSON document is expected.")
        }
        do {
            return try JSONCoding.decoder.decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw JSONCoding.problem(for: error)
        }
    }
}
