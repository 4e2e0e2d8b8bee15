import CaaSStore
import Foundation
import Logging
import Synchronization

/// What keeps long-lived answers (server-sent events, `logs?follow=true`) from outliving the
/// right to them or crowding out a tenant's neighbours: at most `limit` open streams per tenant
/// (the system administrator counts as one more tenant), and every `recheckSeconds` the stream's
/// token is checked again, so a revoked or expired token, or a suspended tenant, ends it.
public final class StreamGuard: Sendable {
    public let limit: Int
    public let recheckSeconds: Double
    private let store: Store
    private let logger: Logger
    private let open = Mutex<[String: Int]>([:])

    public init(store: Store, limit: Int, recheckSeconds: Double, logger: Logger) {
        self.store = store
        self.limit = limit
        self.recheckSeconds = recheckSeconds
        self.logger = logger
    }

    /// Streams open now for `tenantID` (`nil`: the system administrator).
    public func openCount(tenantID: String?) -> Int { open.withLock { $0[Self.key(tenantID)] ?? 0 } }

    static func key(_ tenantID: String?) -> String { tenantID ?? "system" }

    /// One of a tenant's places, held from before the stream's answer is made (so that nothing
    /// upstream is opened for a stream that cannot be served) until its body ends.
    public struct Reservation: Sendable {
        let owner: StreamGuard
        let principal: Principal
        let place: Place

        /// `body`, holding the place while it runs and ended when the token stops admitting it.
        public func stream(_ body: @escaping @Sendable (any ResponseStreamWriter) async throws -> Void) -> APIResponse.Body {
            .stream(owner.guarded(principal, place: place, body))
        }
    }

    /// Takes one of `principal`'s tenant's places; 429 when the tenant has `limit` open.
    public func reserve(_ principal: Principal) throws -> Reservation {
        let key = Self.key(principal.tenantID)
        let admitted = open.withLock { counts -> Bool in
            let current = counts[key] ?? 0
            guard current < limit else { return false }
            counts[key] = current + 1
            return true
        }
        guard admitted else {
            throw APIError.tooManyRequests(retryAfter: 5, detail: "too many open streams for this tenant (at most \(limit)): close one first")
        }
        // The place is given back when the body ends, however it ends; if the stream never
        // starts (the client went away first, or the answer was not made), when the last
        // reference to it goes.
        return Reservation(owner: self, principal: principal, place: Place(guard: self, key: key))
    }

    private func guarded(_ principal: Principal, place: Place,
                         _ body: @escaping @Sendable (any ResponseStreamWriter) async throws -> Void) -> @Sendable (any ResponseStreamWriter) async throws -> Void {
        { [self] writer in
            defer { place.release() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await body(writer) }
                group.addTask { [self] in
                    while true {
                        try await Task.sleep(for: .milliseconds(Int64(recheckSeconds * 1000)))
                        if let reason = await refusal(principal) {
                            logger.notice("stream ended: \(reason)", metadata: ["token.id": .string(principal.tokenID)])
                            throw StreamEnded(reason: reason)
                        }
                    }
                }
                // Whichever ends first ends the stream: the body (done, or its client gone) or the
                // check (the token no longer admits it).
                defer { group.cancelAll() }
                do {
                    try await group.next()
                } catch is StreamEnded {
                    return
                }
            }
        }
    }

    struct StreamEnded: Error { var reason: String }

    /// One held place; released once.
    final class Place: Sendable {
        private let owner: StreamGuard
        private let key: String
        private let released = Atomic<Bool>(false)

        init(guard owner: StreamGuard, key: String) {
            self.owner = owner
            self.key = key
        }

        func release() {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            owner.open.withLock { counts in
                let left = (counts[key] ?? 1) - 1
                if left <= 0 { counts.removeValue(forKey: key) } else { counts[key] = left }
            }
        }

        deinit { release() }
    }

    /// Why `principal`'s token no longer admits it, or `nil` while it does. A database that does
    /// not answer keeps the stream (it is checked again at the next round).
    func refusal(_ principal: Principal) async -> String? {
        let credential: TokenCredential?
        do {
            credential = try await store.systemTransaction { try $0.credential(tokenID: principal.tokenID) }
        } catch {
            logger.warning("stream token check failed", metadata: ["token.id": .string(principal.tokenID), "error": "\(error)"])
            return nil
        }
        guard let credential else { return "the token no longer exists" }
        if credential.token.revokedAt != nil { return "the token was revoked" }
        if let expiry = credential.token.expiresAt, expiry <= Date() { return "the token expired" }
        if credential.tenantStatus == .suspended { return "the tenant is suspended" }
        return nil
    }
}
