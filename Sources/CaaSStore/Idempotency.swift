import CaaSPostgres
import Foundation

/// A response kept for replay.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    /// Header name/value pairs as JSON text (`[["Content-Type","application/json"],…]`).
    public var headersJSON: String
    public var bodyHex: String

    public init(status: Int, headersJSON: String, bodyHex: String) {
        self.status = status
        self.headersJSON = headersJSON
        self.bodyHex = bodyHex
    }
}

public enum IdempotencyClaim: Sendable, Equatable {
    /// This request owns the key: execute it, then `completeIdempotency` or `releaseIdempotency`.
    case claimed
    /// The key was used by an identical request that finished: answer with its response.
    case replay(StoredResponse)
    /// The key was used by a different request.
    case mismatch
    /// An identical request holds the key and is still running.
    case inProgress
}

/// `Idempotency-Key` records, one per (owner, key), kept `retention` (24 h). `owner` is the tenant
/// id, or `system` for the system administrator. Each call is its own short transaction: the
/// claim row is committed before the request executes, so a concurrent twin sees it.
public enum IdempotencyOwner {
    public static let system = "system"
}

/// Idempotency operations run in the scope that owns the key.
public protocol IdempotencyScope {
    var idempotencyConnection: PostgresConnection { get }
    var idempotencyOwner: String { get }
}

extension TenantTransaction: IdempotencyScope {
    public var idempotencyConnection: PostgresConnection { connection }
    public var idempotencyOwner: String { tenantID }
}

extension SystemTransaction: IdempotencyScope {
    public var idempotencyConnection: PostgresConnection { connection }
    public var idempotencyOwner: String { IdempotencyOwner.system }
}

extension IdempotencyScope {
    /// Claims `key` for a request whose method, path and body hash to `requestDigestHex`.
    /// `lease`: how long a claim holds before a crashed claimant's key may be taken over.
    public func claimIdempotencyKey(_ key: String, requestDigestHex: String, lease: Int = 60,
                                    retentionSeconds: Int = 86_400) throws -> IdempotencyClaim {
        let connection = idempotencyConnection
        let owner = idempotencyOwner
        let inserted = try connection.execute("""
            INSERT INTO idempotency_keys (tenant_id, key, request_digest, state, locked_until)
            VALUES ($1, $2, decode($3, 'hex'), 'pending', now() + make_interval(secs => $4))
            ON CONFLICT (tenant_id, key) DO NOTHING
            """, [owner, key, requestDigestHex, lease])
        if inserted == 1 { return .claimed }
        let rows = try connection.query("""
            SELECT encode(request_digest, 'hex') AS digest, state, locked_until < now() AS lapsed,
                   created_at < now() - make_interval(secs => $3) AS expired,
                   response_status, response_headers::text AS headers, encode(response_body, 'hex') AS body
            FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 FOR UPDATE
            """, [owner, key, retentionSeconds])
        guard let row = rows.first else {
            // Deleted between the two statements (released or pruned): try once more.
            return try claimIdempotencyKey(key, requestDigestHex: requestDigestHex, lease: lease, retentionSeconds: retentionSeconds)
        }
        let expired: Bool = try row.decode("expired")
        let digest: String = try row.decode("digest")
        let state: String = try row.decode("state")
        let lapsed: Bool? = try row.decode("lapsed")
        if expired || (digest == requestDigestHex && state == "pending" && lapsed == true) {
            _ = try connection.execute("""
                UPDATE idempotency_keys SET request_digest = decode($3, 'hex'), state = 'pending',
                       locked_until = now() + make_interval(secs => $4), response_status = NULL,
                       response_headers = NULL, response_body = NULL, created_at = CASE WHEN $5 THEN now() ELSE created_at END
                WHERE tenant_id = $1 AND key = $2
                """, [owner, key, requestDigestHex, lease, expired])
            return .claimed
        }
        guard digest == requestDigestHex else { return .mismatch }
        guard state == "done" else { return .inProgress }
        return .replay(StoredResponse(status: try row.decode("response_status"),
                                      headersJSON: try row.decode("headers"),
                                      bodyHex: try row.decode("body")))
    }

    public func completeIdempotencyKey(_ key: String, response: StoredResponse) throws {
        _ = try idempotencyConnection.execute("""
            UPDATE idempotency_keys SET state = 'done', locked_until = NULL, response_status = $3,
                   response_headers = $4::jsonb, response_body = decode($5, 'hex')
            WHERE tenant_id = $1 AND key = $2
            """, [idempotencyOwner, key, response.status, response.headersJSON, response.bodyHex])
    }

    /// Gives the key up (the request failed in a way a retry may fix: a 5xx).
    public func releaseIdempotencyKey(_ key: String) throws {
        _ = try idempotencyConnection.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND state = 'pending'", [idempotencyOwner, key])
    }
}
