import Foundation

/// The kinds of queued work. Open-ended: a kind is a string the workers register a handler for.
public struct JobKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Plan and apply one application (`{"application_id": …}`).
    public static let reconcile = JobKind("reconcile")
    /// Send a cluster's desired state to its agent (`{"cluster_id": …}`).
    public static let push = JobKind("push")
}

public enum JobState: String, Sendable, Equatable, CaseIterable {
    case queued, running, succeeded, failed
    /// Ended without running because an equal job (same dedupe key) was already queued.
    case superseded
}

/// A job to enqueue.
public struct NewJob: Sendable, Equatable {
    public var kind: JobKind
    /// A JSON object as text.
    public var payload: String
    public var tenantID: String?
    /// While a job with this key is queued, enqueueing another only moves the queued one earlier.
    public var dedupeKey: String?
    /// `nil`: now (the database's clock).
    public var runAfter: Date?
    public var maxAttempts: Int

    public init(kind: JobKind, payload: String = "{}", tenantID: String? = nil, dedupeKey: String? = nil,
                runAfter: Date? = nil, maxAttempts: Int = 10) {
        self.kind = kind
        self.payload = payload
        self.tenantID = tenantID
        self.dedupeKey = dedupeKey
        self.runAfter = runAfter
        self.maxAttempts = maxAttempts
    }

    /// Reconcile one application; queued once while pending.
    public static func reconcile(applicationID: String, tenantID: String, runAfter: Date? = nil) -> NewJob {
        NewJob(kind: .reconcile, payload: JobPayload.encode(["application_id": applicationID]), tenantID: tenantID,
               dedupeKey: "reconcile:\(applicationID)", runAfter: runAfter, maxAttempts: 20)
    }

    /// How long a push waits so that more changes join it (a queued push absorbs later ones).
    public static let pushCoalescing: TimeInterval = 0.05

    /// Push a cluster's desired state; queued once while pending.
    public static func push(clusterID: String, tenantID: String, runAfter: Date? = nil) -> NewJob {
        NewJob(kind: .push, payload: JobPayload.encode(["cluster_id": clusterID]), tenantID: tenantID,
               dedupeKey: "push:\(clusterID)", runAfter: runAfter, maxAttempts: 1_000)
    }
}

/// A job as stored.
public struct JobRecord: Sendable, Equatable {
    public var id: Int64
    public var kind: JobKind
    public var payload: String
    public var tenantID: String?
    public var dedupeKey: String?
    public var state: JobState
    public var runAfter: Date
    public var attempts: Int
    public var maxAttempts: Int
    public var lastError: String?
    public var lockedBy: String?
    public var lockedUntil: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    /// A string member of the payload.
    public func payloadString(_ key: String) -> String? { JobPayload.string(payload, key) }
}

/// A job this worker claimed: the lease token (`workerID`, `attempt`) fences everything it does.
public struct ClaimedJob: Sendable, Equatable {
    public var record: JobRecord
    public var workerID: String
    public var id: Int64 { record.id }
    public var kind: JobKind { record.kind }
    /// The attempt number this claim made (1 for the first run).
    public var attempt: Int { record.attempts }
}

/// Payloads are small flat JSON objects of strings.
public enum JobPayload {
    /// A JSON object of `values` with sorted keys, e.g. `{"application_id":"app_1"}`. Written
    /// directly (this runs for every event of every applied plan: thousands per batch).
    public static func encode(_ values: [String: String]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(values.reduce(2) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
        for (index, key) in values.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(values[key]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`, … or `\u00XX`.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func string(_ payload: String, _ key: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { return nil }
        return object[key] as? String
    }
}

/// Exponential backoff with "full jitter" between a floor and a cap: attempt n waits a random
/// time in [base·2^(n-1)/2, base·2^(n-1)], capped at `cap`.
public struct JobBackoff: Sendable, Equatable {
    public var base: TimeInterval
    public var cap: TimeInterval

    public init(base: TimeInterval = 0.5, cap: TimeInterval = 300) {
        self.base = base
        self.cap = cap
    }

    public func delay(afterAttempt attempt: Int, random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> TimeInterval {
        let ceiling = min(cap, base * pow(2, Double(min(max(attempt - 1, 0), 30))))
        return random((ceiling / 2)...ceiling)
    }
}
