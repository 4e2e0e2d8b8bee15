import Synchronization

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

    private static let prefix = UInt64.random(in: .min ... .max)
    private static let key = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)

    /// 32 lowercase hex digits, unique within the process and unpredictable-looking: a random
    /// per-process prefix, then a counter scrambled by a bijective mix (no system call per id).
    public static func generate() -> String {
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).newValue
        var mixed = (sequence ^ key) &+ 0x9E37_79B9_7F4A_7C15
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 31
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let hex: StaticString = "0123456789abcdef"
            for (half, value) in [prefix, mixed].enumerated() {
                var rest = value
                for i in stride(from: 15, through: 0, by: -1) {
                    buffer[half * 16 + i] = hex.utf8Start[Int(rest & 0xF)]
                    rest >>= 4
                }
            }
            return 32
        }
    }
}
