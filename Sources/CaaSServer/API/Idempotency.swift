import CaaSCrypto
import CaaSStore
import Foundation

/// `Idempotency-Key` on POST: the key is claimed in its own committed transaction before the
/// handler runs, so of two concurrent requests with one key exactly one executes. The other waits
/// (up to `waitSeconds`) for the answer and replays it, or gets 409 when it is still running.
/// Same key with a different method, path or body: 422. Answers below 500 are kept 24 hours and
/// replayed byte for byte with `Idempotent-Replayed: true`; a 5xx releases the key for a retry.
/// Exception: answers that carry a one-time secret are kept without it (the secret is shown once).
enum Idempotency {
    static let waitSeconds = 10.0
    static let replayHeader = "Idempotent-Replayed"

    static func run(key: String, context: APIContext, principal: Principal, route: APIRoute) async throws -> APIResponse {
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7e }) else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters", pointer: "Idempotency-Key")
        }
        let request = context.request
        var material = Array("\(request.method)\n\(request.path)\n".utf8)
        material += Array(request.query.keys.sorted().map { "\($0)=\(request.query[$0]!)" }.joined(separator: "&").utf8)
        material += [0x0a] + request.body
        let digest = Hex.encode(SHA256.hash(material))
        let store = context.store
        let scope = principal.scope

        @Sendable func inScope<T: Sendable>(_ body: @escaping @Sendable (any IdempotencyScope) throws -> T) async throws -> T {
            if let scope { return try await store.transaction(scope) { try body($0) } }
            return try await store.systemTransaction { try body($0) }
        }

        let deadline = Date().addingTimeInterval(waitSeconds)
        let lease = context.plane.settings.idempotencyLeaseSeconds
        claiming: while true {
            let claim = try await inScope { try $0.claimIdempotencyKey(key, requestDigestHex: digest, lease: lease) }
            switch claim {
            case .claimed:
                break claiming
            case .replay(let stored):
                return replay(stored)
            case .mismatch:
                throw APIError.idempotencyMismatch()
            case .inProgress:
                if Date() >= deadline { throw APIError.idempotencyInProgress() }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
        }

        var response: APIResponse
        do {
            response = try await route.handler(context)
        } catch {
            response = APIResponse.problem(context.plane.problem(for: error, requestID: context.requestID, logger: context.logger))
        }
        do {
            if response.status >= 500 || { if case .stream = response.body { true } else { false } }() {
                try await inScope { try $0.releaseIdempotencyKey(key) }
            } else {
                let headers = JSONValue.array(response.headers
                    .filter { $0.0.lowercased() != "x-request-id" }
                    .map { .array([.string($0.0), .string($0.1)]) })
                let stored = StoredResponse(status: response.status, headersJSON: headers.serialized,
                                            bodyHex: Hex.encode(response.replayBody ?? response.bodyBytes))
                try await inScope { try $0.completeIdempotencyKey(key, response: stored) }
            }
        } catch {
            context.logger.error("could not record an idempotent answer", metadata: ["error": "\(error)"])
        }
        return response
    }

    static func replay(_ stored: StoredResponse) -> APIResponse {
        var headers: [(String, String)] = []
        if let value = try? JSONParser.parse(Array(stored.headersJSON.utf8)), case .array(let pairs) = value {
            for pair in pairs {
                if case .array(let items) = pair, items.count == 2, let name = items[0].stringValue, let text = items[1].stringValue {
                    headers.append((name, text))
                }
            }
        }
        headers.append((replayHeader, "true"))
        return APIResponse(status: stored.status, headers: headers, body: .bytes(Hex.decode(stored.bodyHex) ?? []))
    }
}
