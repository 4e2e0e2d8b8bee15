#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Something registered with an event loop for readiness events on one file descriptor.
protocol EventLoopHandler: AnyObject {
    func handle(events: UInt32)
    /// Called periodically on the loop thread to enforce timeouts.
    func sweep(now: UInt64)
}

extension EventLoopHandler {
    func sweep(now: UInt64) {}
}

/// One event-loop thread: an epoll set, a queue of work, and a Swift `TaskExecutor`.
///
/// Everything a connection owns is touched only on its loop's thread ("loop-confined"), which is why
/// the connection types are `@unchecked Sendable` without locks. Other threads hand work over with
/// `execute(_:)` (a locked queue plus an eventfd wake-up).
///
/// The loop is also a `TaskExecutor`: request handlers run in `Task(executorPreference: loop)`, so a
/// handler that completes without suspending runs on the loop thread in the same iteration that
/// parsed its request, and writes its response inline: no thread hop, no wake-up. A handler that
/// awaits (a database call) resumes on the loop when its continuation is resumed.
final class EventLoop: TaskExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct RemoteQueue {
        var items: [Work] = []
        var wakePending = false
        var stopped = false
    }

    let index: Int
    private let epfd: Int32
    private let wakeFD: Int32
    private static let wakeToken = UInt64.max

    private let threadID = Atomic<UInt>(0)
    private let remote = Mutex(RemoteQueue())

    // Loop-confined state.
    private var local: [Work] = []
    private var spare: [Work] = []
    private var handlers: [EventLoopHandler?] = []
    private var running = true
    private var nextSweep: UInt64 = 0
    private let sweepInterval: UInt64
    /// Monotonic time sampled once per loop iteration.
    private(set) var now: UInt64 = monotonicNanoseconds()
    /// Shared read buffer for every connection of this loop (64 KiB).
    let readBuffer: UnsafeMutableRawBufferPointer
    /// Shared buffer where responses are serialised before the write.
    var writeBuffer: [UInt8] = []
    let dateCache = HTTPDateCache()
    private var onStop: (@Sendable () -> Void)?

    init(index: Int, sweepInterval: UInt64) {
        self.index = index
        self.sweepInterval = sweepInterval
        epfd = Linux.create()
        wakeFD = Linux.makeEventFD()
        precondition(epfd >= 0 && wakeFD >= 0, "cannot create epoll instance: errno \(errno)")
        _ = Linux.control(epfd, Linux.ctlAdd, fd: wakeFD, events: Linux.eventIn, data: EventLoop.wakeToken)
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        writeBuffer.reserveCapacity(16 * 1024)
    }

    deinit {
        readBuffer.deallocate()
    }

    /// Starts the loop thread; `onStop` runs on it after the loop ended.
    func start(name: String, onStop: @escaping @Sendable () -> Void) {
        self.onStop = onStop
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    var inEventLoop: Bool { threadID.load(ordering: .relaxed) == UInt(bitPattern: Int(bitPattern: pthread_self())) }

    // MARK: Work submission

    /// Runs `work` on the loop thread, later in this iteration if called from it.
    func execute(_ work: @escaping @Sendable () -> Void) {
        submit(.closure(work))
    }

    /// Runs `work` now if on the loop thread, else hands it over.
    func executeOrRun(_ work: @escaping @Sendable () -> Void) {
        if inEventLoop { work() } else { submit(.closure(work)) }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    private func submit(_ work: Work) {
        if inEventLoop {
            local.append(work)
            return
        }
        let (mustWake, stopped) = remote.withLock { queue -> (Bool, Bool) in
            if queue.stopped { return (false, true) }
            queue.items.append(work)
            if queue.wakePending { return (false, false) }
            queue.wakePending = true
            return (true, false)
        }
        if stopped {
            // The loop is gone: jobs of tasks that still prefer it continue on the global executor.
            if case .job(let job) = work { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
            return
        }
        if mustWake {
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
    }

    // MARK: Registration (loop thread only)

    func register(fd: Int32, handler: EventLoopHandler, events: UInt32) -> Bool {
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index - handlers.count + 1 + 256)) }
        handlers[index] = handler
        if Linux.control(epfd, Linux.ctlAdd, fd: fd, events: events, data: UInt64(fd)) != 0 {
            handlers[index] = nil
            return false
        }
        return true
    }

    func modify(fd: Int32, events: UInt32) {
        _ = Linux.control(epfd, Linux.ctlMod, fd: fd, events: events, data: UInt64(fd))
    }

    func deregister(fd: Int32) {
        _ = Linux.control(epfd, Linux.ctlDel, fd: fd, events: 0, data: 0)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// Every registered handler (loop thread only).
    func forEachHandler(_ body: (EventLoopHandler) -> Void) {
        for case let handler? in handlers { body(handler) }
    }

    /// Ends the loop after the current iteration; `completion` runs on the loop thread at the very end
    /// (loop thread only).
    func stopAfterThisIteration(_ completion: @escaping @Sendable () -> Void) {
        running = false
        let previous = onStop
        onStop = {
            previous?()
            completion()
        }
    }

    // MARK: The loop

    private func run() {
        threadID.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .relaxed)
        let capacity = 256
        let events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Linux.eventSize, alignment: 8)
        defer { events.deallocate() }
        nextSweep = monotonicNanoseconds() + sweepInterval

        while running {
            var timeout: Int32 = 0
            if local.isEmpty {
                let current = monotonicNanoseconds()
                timeout = current >= nextSweep ? 0 : Int32((nextSweep - current) / 1_000_000) + 1
            }
            let count = Linux.wait(epfd, events, capacity: Int32(capacity), timeoutMS: timeout)
            now = monotonicNanoseconds()
            if count > 0 {
                for i in 0..<Int(count) {
                    let (flags, data) = Linux.event(at: i, in: events)
                    if data == EventLoop.wakeToken {
                        var value: UInt64 = 0
                        _ = Glibc.read(wakeFD, &value, 8)
                        continue
                    }
                    let fd = Int(truncatingIfNeeded: data)
                    if fd < handlers.count, let handler = handlers[fd] {
                        handler.handle(events: flags)
                    }
                }
            }
            drainRemote()
            runLocalWork()
            if now >= nextSweep {
                for case let handler? in handlers { handler.sweep(now: now) }
                nextSweep = now + sweepInterval
                runLocalWork()
            }
        }

        // Hand what is left to the global executor and close the loop. The thread id is cleared
        // first: a later thread may reuse it and must not be taken for this loop.
        threadID.store(0, ordering: .relaxed)
        let leftovers = remote.withLock { queue -> [Work] in
            queue.stopped = true
            defer { queue.items = [] }
            return queue.items
        }
        for work in local + leftovers {
            switch work {
            case .job(let job): globalConcurrentExecutor.enqueue(ExecutorJob(job))
            case .closure(let closure): closure()
            }
        }
        local = []
        handlers = []
        Glibc.close(epfd)
        Glibc.close(wakeFD)
        onStop?()
        onStop = nil
    }

    private func drainRemote() {
        let items = remote.withLock { queue -> [Work] in
            queue.wakePending = false
            if queue.items.isEmpty { return [] }
            defer { queue.items = [] }
            return queue.items
        }
        if !items.isEmpty { local.append(contentsOf: items) }
    }

    private func runLocalWork() {
        // Bounded so that I/O is never starved by work that keeps scheduling more work.
        var rounds = 0
        while !local.isEmpty && rounds < 64 {
            rounds += 1
            swap(&local, &spare)
            for work in spare {
                switch work {
                case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                case .closure(let closure): closure()
                }
            }
            spare.removeAll(keepingCapacity: true)
        }
    }
}

/// The `Date` header value, formatted once per second (RFC 9110 §5.6.7 IMF-fixdate).
final class HTTPDateCache {
    private var second: Int = -1
    private(set) var bytes: [UInt8] = []

    /// The current IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    func current() -> [UInt8] {
        let now = time(nil)
        if now != second {
            second = now
            bytes = HTTPDateCache.format(now)
        }
        return bytes
    }

    static func format(_ seconds: Int) -> [UInt8] {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return Array(text.utf8)
    }
}
