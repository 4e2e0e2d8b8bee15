import Foundation

/// A value guarded by a lock.
///
/// `@unchecked Sendable`: every access to `value` goes through `withLock`, which holds the
/// `NSLock` for the duration of the closure, so the value is never touched by two threads at once.
/// (`Synchronization.Mutex` would do the same, but needs macOS 15 availability annotations.)
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    @discardableResult
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
