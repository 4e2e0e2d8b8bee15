import Foundation

/// Wakes readers waiting for a tenant's next event. Fed by the LISTEN connection on
/// `eventsChannel` (see `ControlPlane.run`): the trigger on `events` notifies `tenant_id:event_id`
/// at commit. Readers re-query the store after waking; the notifier only says "look again".
public final class EventNotifier: @unchecked Sendable {
    private let lock = NSLock()
    /// The newest event id seen per tenant (so a wake-up that raced a reader's query is not lost).
    private var latest: [String: Int64] = [:]
    private var waiters: [String: [UUID: CheckedContinuation<Bool, Never>]] = [:]

    public init() {}

    /// Records that `eventID` of `tenantID` committed and wakes that tenant's waiters.
    public func publish(tenantID: String, eventID: Int64) {
        lock.lock()
        if eventID > latest[tenantID] ?? 0 { latest[tenantID] = eventID }
        let woken = waiters.removeValue(forKey: tenantID) ?? [:]
        lock.unlock()
        for continuation in woken.values { continuation.resume(returning: true) }
    }

    /// Parses a notification payload (`tenant_id:event_id`) and publishes it.
    public func publish(payload: String) {
        guard let colon = payload.lastIndex(of: ":"), let id = Int64(payload[payload.index(after: colon)...]) else { return }
        publish(tenantID: String(payload[..<colon]), eventID: id)
    }

    /// Wakes every waiter (e.g. after the listener reconnected and notifications may be lost).
    public func wakeAll() {
        lock.lock()
        let woken = waiters
        waiters = [:]
        lock.unlock()
        for continuation in woken.values.flatMap(\.values) { continuation.resume(returning: true) }
    }

    /// Waits until an event newer than `after` is published for `tenantID`, the timeout passes
    /// (false), or the task is cancelled (false).
    public func wait(tenantID: String, after: Int64, timeout: Double) async -> Bool {
        let id = UUID()
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1_000_000_000))
            self?.resolve(tenantID: tenantID, id: id, with: false)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                lock.lock()
                if (latest[tenantID] ?? 0) > after || Task.isCancelled {
                    let newer = (latest[tenantID] ?? 0) > after
                    lock.unlock()
                    continuation.resume(returning: newer)
                    return
                }
                waiters[tenantID, default: [:]][id] = continuation
                lock.unlock()
            }
        } onCancel: {
            resolve(tenantID: tenantID, id: id, with: false)
        }
    }

    private func resolve(tenantID: String, id: UUID, with value: Bool) {
        lock.lock()
        let continuation = waiters[tenantID]?.removeValue(forKey: id)
        lock.unlock()
        continuation?.resume(returning: value)
    }

    /// Readers currently waiting (tests).
    public var waiterCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiters.values.reduce(0) { $0 + $1.count }
    }
}
