import Foundation

/// An `application/problem+json` answer (RFC 9457) as the client reads it. Every member is
/// optional: a proxy's or an older server's error still reads as something.
public struct ProblemDetails: Sendable, Equatable {
    /// One failure inside a request: where (`pointer` into the body, or `path` such as
    /// `services.web.ports[1]` with the compose `line`/`column`) and what.
    public struct FieldError: Sendable, Equatable {
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

        init(_ json: JSON) {
            pointer = json["pointer"]?.stringValue
            path = json["path"]?.stringValue
            line = json["line"]?.intValue
            column = json["column"]?.intValue
            detail = json["detail"]?.stringValue ?? json["message"]?.stringValue ?? json.compact()
        }
    }

    public var type: String?
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    public var errors: [FieldError]
    /// Members beyond RFC 9457's (such as `quota`, `limit`, `warnings`).
    public var extensions: [String: JSON]
    /// The `X-Request-Id` of the answer, to quote when reporting a server failure.
    public var requestID: String?
    /// `Retry-After` in seconds, when the server sent one.
    public var retryAfter: Int?

    public init(type: String? = nil, title: String, status: Int, detail: String? = nil, instance: String? = nil,
                errors: [FieldError] = [], extensions: [String: JSON] = [:], requestID: String? = nil, retryAfter: Int? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.errors = errors
        self.extensions = extensions
        self.requestID = requestID
        self.retryAfter = retryAfter
    }

    /// Reads an error answer: a problem document when it is one, otherwise the status and
    /// whatever text came (so an HTML page from a proxy still says something).
    public init(status: Int, body: [UInt8], requestID: String? = nil, retryAfter: Int? = nil) {
        let reason = HTTPStatusText.reason(status)
        if let json = JSON.parse(body), case .object(var members) = json {
            type = members.removeValue(forKey: "type")?.stringValue
            title = members.removeValue(forKey: "title")?.stringValue ?? reason
            self.status = members.removeValue(forKey: "status")?.intValue ?? status
            detail = members.removeValue(forKey: "detail")?.stringValue
            instance = members.removeValue(forKey: "instance")?.stringValue
            errors = (members.removeValue(forKey: "errors")?.arrayValue ?? []).map(FieldError.init)
            extensions = members
        } else {
            type = nil
            title = reason
            self.status = status
            let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            detail = text.isEmpty ? nil : text
            instance = nil
            errors = []
            extensions = [:]
        }
        self.requestID = requestID
        self.retryAfter = retryAfter
    }

    /// The last part of `type` (`https://caas.dev/problems/quota-exceeded` → `quota-exceeded`).
    public var slug: String? {
        guard let type, type != "about:blank" else { return nil }
        return type.split(separator: "/").last.map(String.init)
    }
}

/// Reason phrases for statuses a client meets.
enum HTTPStatusText {
    static func reason(_ status: Int) -> String {
        switch status {
        case 400: "Bad request"
        case 401: "Authentication required"
        case 403: "Forbidden"
        case 404: "Not found"
        case 405: "Method not allowed"
        case 408: "Request timeout"
        case 409: "Conflict"
        case 412: "Precondition failed"
        case 413: "Payload too large"
        case 415: "Unsupported media type"
        case 422: "Unprocessable content"
        case 428: "Precondition required"
        case 429: "Too many requests"
        case 500: "Internal server error"
        case 502: "Bad gateway"
        case 503: "Service unavailable"
        case 504: "Gateway timeout"
        default: "HTTP \(status)"
        }
    }
}
