import Foundation

/// A token bucket: holds up to `burst` tokens, refills at `ratePerSecond`; each request takes one.
public struct TokenBucket: Sendable, Equatable {
    public var ratePerSecond: Double
    public var burst: Double
    public private(set) var tokens: Double
    public private(set) var updatedAt: Double

    public init(ratePerSecond: Double, burst: Double, now: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.tokens = burst
        self.updatedAt = now
    }

    /// Takes one token at `now` (seconds), or answers how many seconds until one is there.
    public mutating func take(now: Double) -> RateDecision {
        refill(now: now)
        if tokens >= 1 {
            tokens -= 1
            return .allowed
        }
        let wait = ratePerSecond > 0 ? (1 - tokens) / ratePerSecond : 3600
        return .limited(retryAfter: max(1, Int(wait.rounded(.up))))
    }

    /// Whether a request now would be allowed, without taking a token.
    public func wouldAllow(now: Double) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= 1
    }

    /// Whether the bucket is full again at `now` (then it can be forgotten).
    public func isFull(now: Double) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= burst
    }

    private mutating func refill(now: Double) {
        if now > updatedAt {
            tokens = min(burst, tokens + (now - updatedAt) * ratePerSecond)
            updatedAt = now
        }
    }
}

public enum RateDecision: Sendable, Equatable {
    case allowed
    case limited(retryAfter: Int)
}

/// Token buckets by key (a token id, a client address), in memory of this replica: each replica
/// enforces the limit on its own share of traffic. Idle, full buckets are forgotten.
public final class RateLimiter: @unchecked Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    private let lock = NSLock()
    private var buckets: [String: TokenBucket] = [:]
    private var lastSweep: Double = 0
    private let clock: @Sendable () -> Double

    public init(ratePerSecond: Double, burst: Double,
                clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        self.clock = clock
    }

    /// Takes one token from `key`'s bucket.
    public func take(_ key: String) -> RateDecision {
        let now = clock()
        lock.lock()
        defer { lock.unlock() }
        sweep(now: now)
        var bucket = buckets[key] ?? TokenBucket(ratePerSecond: ratePerSecond, burst: burst, now: now)
        let decision = bucket.take(now: now)
        buckets[key] = bucket
        return decision
    }

    /// Whether `key` is currently limited, without taking a token (failed-authentication check).
    public func isLimited(_ key: String) -> RateDecision {
        let now = clock()
        lock.lock()
        defer { lock.unlock() }
        guard let bucket = buckets[key], !bucket.wouldAllow(now: now) else { return .allowed }
        var copy = bucket
        return copy.take(now: now)
    }

    private func sweep(now: Double) {
        guard now - lastSweep > 60 else { return }
        lastSweep = now
        buckets = buckets.filter { !$0.value.isFull(now: now) }
    }
}
