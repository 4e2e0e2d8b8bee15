import Foundation

/// An RFC 9457 problem details object, sent as `application/problem+json`.
///
/// `errors` lists individual failures (validation): each names where (a JSON `pointer` into the
/// request body, or a `path` such as a query parameter or compose file path, with optional
/// `line`/`column`) and what (`detail`).
public struct Problem: Codable, Sendable, Equatable {
    public struct FieldError: Codable, Sendable, Equatable {
        public var pointer: String?
        public var path: String?
        public var line: Int?
        public var column: Int?
        public var detail: String

        public init(pointer: String? = nil, path: String? = nil, line: Int? = nil, column: Int? = nil, detail: String) {
            self.pointer = pointer
            self.path = path
            self.line = line
            self.column = column
            self.detail = detail
        }
    }

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    public var errors: [FieldError]?

    public init(type: String = "about:blank", title: String? = nil, status: HTTPStatus, detail: String? = nil,
                instance: String? = nil, errors: [FieldError]? = nil) {
        self.type = type
        self.title = title ?? status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.instance = instance
        self.errors = errors
    }

    public static let mediaType = "application/problem+json"

    /// The encoded JSON (keys as RFC 9457 names them; absent members omitted).
    public func encoded() -> [UInt8] {
        (try? Array(Problem.encoder.encode(self))) ?? Array(#"{"title":"Internal Server Error","status":500}"#.utf8)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension HTTPResponse {
    /// A problem+json response with the problem's status.
    public static func problem(_ problem: Problem, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers["Content-Type"] = Problem.mediaType
        return HTTPResponse(status: HTTPStatus(code: problem.status), headers: headers, body: .init(bytes: problem.encoded()))
    }
}
