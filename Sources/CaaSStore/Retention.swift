import CaaSPostgres

public struct RetentionPolicy: Sendable, Equatable {
    /// Events older than this are deleted (`CAAS_EVENT_RETENTION`, default 7 days).
    public var eventSeconds: Int
    /// Idempotency keys are kept this long (24 hours).
    public var idempotencySeconds: Int
    /// Audit entries are kept this long (`CAAS_AUDIT_RETENTION`, default 90 days).
    public var auditSeconds: Int

    public init(eventSeconds: Int = 7 * 86_400, idempotencySeconds: Int = 86_400, auditSeconds: Int = 90 * 86_400) {
        self.eventSeconds = eventSeconds
        self.idempotencySeconds = idempotencySeconds
        self.auditSeconds = auditSeconds
    }
}

public struct PruneCounts: Sendable, Equatable {
    public var events: Int
    public var idempotencyKeys: Int
    public var auditEntries: Int
}

extension SystemTransaction {
    /// Deletes what the policy no longer keeps. The tenants' event counters are untouched, so ids
    /// are never reused.
    public func prune(_ policy: RetentionPolicy) throws -> PruneCounts {
        let events = try connection.execute(
            "DELETE FROM events WHERE created_at < now() - make_interval(secs => $1)", [policy.eventSeconds])
        let keys = try connection.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) AND state = 'done'", [policy.idempotencySeconds])
        let audit = try connection.execute(
            "DELETE FROM audit_log WHERE created_at < now() - make_interval(secs => $1)", [policy.auditSeconds])
        return PruneCounts(events: events, idempotencyKeys: keys, auditEntries: audit)
    }
}
