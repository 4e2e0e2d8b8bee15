import CaaSPostgres
import Foundation

/// A value shared between test closures running on different threads.
final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// Lets two threads meet: each `arrive` waits (bounded) until `parties` have arrived.
final class Barrier: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private let parties: Int
    init(parties: Int) { self.parties = parties }

    func arrive(timeout: TimeInterval = 5) {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        if arrived >= parties { condition.broadcast(); return }
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < parties, condition.wait(until: deadline) {}
    }
}

struct Timeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds, at most `seconds`.
func waitUntil(_ what: String, seconds: Double = 10, _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    throw Timeout(what: what)
}

/// Collects what a stream yields, in the background.
final class EventRecorder<Event: Sendable>: Sendable {
    let events = Shared<[Event]>([])
    let task: Task<Void, Never>

    init(_ stream: AsyncStream<Event>) {
        let events = self.events
        task = Task { for await event in stream { events.withLock { $0.append(event) } } }
    }

    var all: [Event] { events.current }

    func wait(_ what: String, seconds: Double = 10, until condition: @escaping @Sendable ([Event]) -> Bool) async throws {
        try await waitUntil(what, seconds: seconds) { condition(self.all) }
    }

    func stop() { task.cancel() }
}
