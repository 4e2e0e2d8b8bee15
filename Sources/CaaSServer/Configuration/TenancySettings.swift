import Foundation
import CaaSStore

/// Settings of tenancy, authentication and the API conventions. Each comes from its environment
/// variable or its default; `resolve` is pure so it is tested on values.
public struct TenancySettings: Sendable, Equatable {
    /// `CAAS_QUOTA_CLUSTERS`, `CAAS_QUOTA_NODES`, `CAAS_QUOTA_APPLICATIONS`, `CAAS_QUOTA_CONTAINERS`:
    /// quotas of tenants without their own (a system administrator sets those per tenant).
    public var quotaDefaults = QuotaDefaults()
    /// `CAAS_RATE_LIMIT` (requests per second per token) and `CAAS_RATE_BURST`.
    public var rateLimitPerSecond: Double = 20
    public var rateLimitBurst: Double = 40
    /// `CAAS_AUTH_FAILURE_RATE` (failed authentications per second per client address, refill)
    /// and `CAAS_AUTH_FAILURE_BURST`: token guessing is answered 429 beyond them.
    public var authFailurePerSecond: Double = 0.2
    public var authFailureBurst: Double = 10
    /// `CAAS_TRUSTED_PROXIES`: comma-separated networks and addresses of the operator's load
    /// balancers; only their `X-Forwarded-For` is believed (read from the right, see
    /// `TrustedProxies`). Empty: the connection's peer is the client.
    public var trustedProxies = TrustedProxies()
    /// `CAAS_CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser.
    public var corsOrigins: [String] = []
    /// `CAAS_EVENT_RETENTION`, `CAAS_AUDIT_RETENTION`: seconds events and audit entries are kept.
    public var retention = RetentionPolicy()
    /// `CAAS_BOOTSTRAP_TOKEN`: the system administrator's token secret (otherwise one is made and
    /// printed once on first start).
    public var bootstrapToken: String?
    /// Largest request body accepted by the API (`CAAS_MAX_BODY`, bytes).
    public var maximumBodyBytes: Int = 1 << 20
    /// Most open connections from one client address on the API and agent listeners
    /// (`CAAS_MAX_CONNECTIONS_PER_ADDRESS`); addresses of `trustedProxies` are not counted.
    public var maximumConnectionsPerAddress: Int = 256
    /// Most open event streams and followed logs per tenant (`CAAS_MAX_STREAMS_PER_TENANT`).
    public var maximumStreamsPerTenant: Int = 64
    /// Seconds between checks of an open stream's token (`CAAS_STREAM_RECHECK`): a revoked or
    /// expired token, or a suspended tenant, ends the stream at the next check.
    public var streamRecheckSeconds: Int = 15
    /// `CAAS_IDEMPOTENCY_LEASE`: seconds a request's claim on its `Idempotency-Key` holds; a retry
    /// of a request whose server died mid-way gets 409 until then, and runs after.
    public var idempotencyLeaseSeconds: Int = 60

    public init() {}

    public static func resolve(environment: [String: String]) throws(ConfigurationError) -> TenancySettings {
        var settings = TenancySettings()
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw ConfigurationError(setting: name, message: "\(text) is not an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        func number(_ name: String) throws(ConfigurationError) -> Double? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Double(text), value.isFinite else {
                throw ConfigurationError(setting: name, message: "\(text) is not a number")
            }
            guard value > 0, value < 1_000_000 else {
                throw ConfigurationError(setting: name, message: "\(text) is out of range: more than 0 and less than 1000000")
            }
            return value
        }
        if let v = try integer("CAAS_QUOTA_CLUSTERS", 0...1_000_000) { settings.quotaDefaults.limits[.clusters] = v }
        if let v = try integer("CAAS_QUOTA_NODES", 0...1_000_000) { settings.quotaDefaults.limits[.nodes] = v }
        if let v = try integer("CAAS_QUOTA_APPLICATIONS", 0...1_000_000) { settings.quotaDefaults.limits[.applications] = v }
        if let v = try integer("CAAS_QUOTA_CONTAINERS", 0...1_000_000) { settings.quotaDefaults.limits[.containers] = v }
        if let v = try number("CAAS_RATE_LIMIT") { settings.rateLimitPerSecond = v }
        if let v = try number("CAAS_RATE_BURST") { settings.rateLimitBurst = v }
        if let v = try number("CAAS_AUTH_FAILURE_RATE") { settings.authFailurePerSecond = v }
        if let v = try number("CAAS_AUTH_FAILURE_BURST") { settings.authFailureBurst = v }
        if let text = environment["CAAS_TRUSTED_PROXIES"], !text.isEmpty {
            do { settings.trustedProxies = try TrustedProxies.parse(text) } catch {
                throw ConfigurationError(setting: "CAAS_TRUSTED_PROXIES", message: error.message)
            }
        }
        if let origins = environment["CAAS_CORS_ORIGINS"], !origins.isEmpty {
            settings.corsOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let v = try integer("CAAS_EVENT_RETENTION", 60...(10 * 365 * 86_400)) { settings.retention.eventSeconds = v }
        if let v = try integer("CAAS_AUDIT_RETENTION", 60...(10 * 365 * 86_400)) { settings.retention.auditSeconds = v }
        if let v = try integer("CAAS_MAX_BODY", 1024...(64 << 20)) { settings.maximumBodyBytes = v }
        if let v = try integer("CAAS_MAX_CONNECTIONS_PER_ADDRESS", 1...1_000_000) { settings.maximumConnectionsPerAddress = v }
        if let v = try integer("CAAS_MAX_STREAMS_PER_TENANT", 1...100_000) { settings.maximumStreamsPerTenant = v }
        if let v = try integer("CAAS_STREAM_RECHECK", 1...3600) { settings.streamRecheckSeconds = v }
        if let v = try integer("CAAS_IDEMPOTENCY_LEASE", 1...3_600) { settings.idempotencyLeaseSeconds = v }
        if let token = environment["CAAS_BOOTSTRAP_TOKEN"], !token.isEmpty {
            guard TokenSecret.isWellFormed(token) else {
                throw ConfigurationError(setting: "CAAS_BOOTSTRAP_TOKEN", message: "must be caas_ followed by at least 52 base32 characters (a-z, 2-7); make one with `caasctl token generate` or `echo caas_$(head -c32 /dev/urandom | base32 | tr -d = | tr A-Z a-z)`")
            }
            settings.bootstrapToken = token
        }
        return settings
    }
}
