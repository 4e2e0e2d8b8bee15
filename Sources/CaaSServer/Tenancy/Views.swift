import CaaSStore
import Foundation

/// JSON representations of the tenancy resources (snake_case, RFC 3339 times, null when absent).
enum Views {
    static func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
    static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    static func tenant(_ tenant: TenantRecord, defaults: QuotaDefaults) -> JSONValue {
        var effective: [String: JSONValue] = [:]
        for kind in QuotaKind.allCases {
            effective[kind.rawValue] = .integer(Int64(defaults.limit(kind, overrides: tenant.quotas)))
        }
        return .object([
            "id": .string(tenant.id),
            "name": .string(tenant.name),
            "display_name": .string(tenant.displayName),
            "status": .string(tenant.status.rawValue),
            "suspended_reason": text(tenant.suspendedReason),
            "quotas": .object(effective),
            "quota_overrides": .object(tenant.quotas.mapValues { .integer(Int64($0)) }),
            "last_event_id": .integer(tenant.lastEventID),
            "version": .integer(tenant.version),
            "created_at": time(tenant.createdAt),
            "updated_at": time(tenant.updatedAt),
        ])
    }

    static func token(_ token: TokenRecord, secret: String? = nil) -> JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(token.id),
            "tenant_id": text(token.tenantID),
            "name": .string(token.name),
            "role": .string(token.role),
            "created_by": text(token.createdBy),
            "created_at": time(token.createdAt),
            "expires_at": time(token.expiresAt),
            "revoked_at": time(token.revokedAt),
            "last_used_at": time(token.lastUsedAt),
            "version": .integer(token.version),
        ]
        if let secret { members["secret"] = .string(secret) }
        return .object(members)
    }

    static func event(_ event: EventRecord) -> JSONValue {
        let data = (try? JSONParser.parse(Array(event.dataJSON.utf8))) ?? .object([:])
        return .object([
            "id": .integer(event.id),
            "type": .string(event.type),
            "object_kind": .string(event.objectKind),
            "object_id": .string(event.objectID),
            "summary": .string(event.summary),
            "data": data,
            "time": time(event.createdAt),
        ])
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        .object([
            "id": .integer(entry.id),
            "tenant_id": text(entry.tenantID),
            "token_id": text(entry.tokenID),
            "token_name": text(entry.tokenName),
            "action": .string(entry.action),
            "target": text(entry.target),
            "method": .string(entry.method),
            "path": .string(entry.path),
            "outcome": .integer(Int64(entry.outcome)),
            "request_id": .string(entry.requestID),
            "time": time(entry.createdAt),
        ])
    }
}
