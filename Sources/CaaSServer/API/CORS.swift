/// CORS for web consoles: only configured origins get `Access-Control-Allow-Origin`; every answer
/// says `Vary: Origin` when CORS is on, so caches keep answers per origin.
enum CORS {
    static let allowedMethods = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-Id, Last-Event-ID"
    static let exposedHeaders = "ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed, WWW-Authenticate"

    static func allows(_ origin: String, origins: [String]) -> Bool {
        origins.contains(origin) || origins.contains("*")
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    static func preflight(_ request: APIRequest, origins: [String]) -> APIResponse {
        var response = APIResponse(status: 204)
        guard let origin = request.header("origin"), allows(origin, origins: origins) else { return response }
        response.setHeader("Access-Control-Allow-Methods", allowedMethods)
        response.setHeader("Access-Control-Allow-Headers", allowedHeaders)
        response.setHeader("Access-Control-Max-Age", "600")
        return response
    }

    static func decorate(_ response: inout APIResponse, request: APIRequest, origins: [String]) {
        guard !origins.isEmpty else { return }
        response.setHeader("Vary", "Origin")
        guard let origin = request.header("origin"), allows(origin, origins: origins) else { return }
        response.setHeader("Access-Control-Allow-Origin", origin)
        if request.method != "OPTIONS" { response.setHeader("Access-Control-Expose-Headers", exposedHeaders) }
    }
}
