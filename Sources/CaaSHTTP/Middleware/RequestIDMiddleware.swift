/// Gives every request an id: the client's `X-Request-Id` when well-formed (1–128 characters of
/// `A–Z a–z 0–9 . _ : -`), else a new random one. The id goes into `context.requestID`, into the
/// logger's `request.id` metadata, and back to the client in the response's `X-Request-Id`.
public struct RequestIDMiddleware: HTTPMiddleware {
    public static let headerName = "X-Request-Id"

    public init() {}

    public func handle(_ request: HTTPRequest, context: RequestContext,
                       next: (HTTPRequest, RequestContext) async throws -> HTTPResponse) async throws -> HTTPResponse {
        var context = context
        let id: String
        if let incoming = request.headers[Self.headerName], Self.isWellFormed(incoming) {
            id = incoming
        } else {
            id = Self.generate()
        }
        context.requestID = id
        context.logger[metadataKey: "request.id"] = "\(id)"
        do {
            var response = try await next(request, context)
            response.headers[Self.headerName] = id
            return response
        } catch let error as any HTTPResponseError {
            var response = error.response
            response.headers[Self.headerName] = id
            return response
        }
    }

    public static func isWellFormed(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty && utf8.count <= 128 else { return false }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// 128 random bits as 32 lowercase hex digits.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: 32)
        for half in 0..<2 {
            var value = generator.next() as UInt64
            for i in 0..<16 {
                bytes[half * 16 + i] = hex[Int(value & 0xF)]
                value >>= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
