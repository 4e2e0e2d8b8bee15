import CaaSCrypto
import CaaSStore
import Foundation
import Logging

/// Turns `Authorization: Bearer caas_…` into a `Principal`, or an error that says why not.
///
/// The secret's SHA-256 is looked up (a unique index on a digest of 256 random bits leaks nothing
/// useful through timing), and the stored digest is compared again in constant time. Failed
/// attempts count against the client address; beyond the limit the address's failures are
/// answered 429 instead of 401. A valid token is always let in: the bucket throttles failures
/// only, so garbage from one address (behind a load balancer, from everyone) locks out nobody.
public final class Authenticator: Sendable {
    let store: Store
    let failures: RateLimiter
    let lastUse: LastUseThrottle
    let logger: Logger

    public init(store: Store, failures: RateLimiter, logger: Logger) {
        self.store = store
        self.failures = failures
        self.lastUse = LastUseThrottle()
        self.logger = logger
    }

    public func authenticate(_ request: APIRequest) async throws -> Principal {
        guard let header = request.header("authorization") else {
            throw APIError.unauthorized("send Authorization: Bearer <token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw failed(request, "the Authorization header is not a Bearer token")
        }
        let secret = parts[1].trimmingCharacters(in: .whitespaces)
        guard TokenSecret.isWellFormed(secret) else { throw failed(request, "the token is not valid") }
        let digest = TokenSecret.digestHex(secret)
        guard let credential = try await store.systemTransaction({ try $0.credential(digestHex: digest) }),
              let stored = Hex.decode(credential.digestHex), let presented = Hex.decode(digest),
              ConstantTime.equals(stored, presented) else {
            throw failed(request, "the token is not valid")
        }
        let token = credential.token
        if token.revokedAt != nil { throw failed(request, "the token was revoked") }
        if let expiry = token.expiresAt, expiry <= Date() { throw failed(request, "the token expired") }
        guard let role = Role(rawValue: token.role) else { throw failed(request, "the token is not valid") }
        if credential.tenantStatus == .suspended {
            throw APIError.forbidden("tenant \(credential.tenantName ?? "") is suspended: \(credential.tenantSuspendedReason ?? "no reason given")",
                                     type: "tenant-suspended")
        }
        if lastUse.due(token.id) {
            let id = token.id
            do {
                try await store.systemTransaction { try $0.touchToken(id) }
            } catch {
                logger.warning("could not record a token's last use", metadata: ["token.id": .string(id), "error": "\(error)"])
            }
        }
        return Principal(tokenID: token.id, tokenName: token.name, role: role, tenantID: token.tenantID, tenantName: credential.tenantName)
    }

    private func failed(_ request: APIRequest, _ reason: String) -> APIError {
        if case .limited(let retryAfter) = failures.take(request.clientAddress) {
            return APIError.tooManyRequests(retryAfter: retryAfter, detail: "too many failed authentications from this address")
        }
        logger.notice("authentication failed", metadata: ["client": .string(request.clientAddress), "reason": .string(reason)])
        return APIError.invalidToken(reason)
    }
}

/// Remembers when each token's use was last written, so `last_used_at` costs at most one write
/// per token per minute per replica.
final class LastUseThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var written: [String: Double] = [:]
    let interval: Double

    init(interval: Double = 60) { self.interval = interval }

    func due(_ tokenID: String) -> Bool {
        let now = ProcessInfo.processInfo.systemUptime
        lock.lock()
        defer { lock.unlock() }
        if let last = written[tokenID], now - last < interval { return false }
        if written.count > 100_000 { written.removeAll() }
        written[tokenID] = now
        return true
    }
}
