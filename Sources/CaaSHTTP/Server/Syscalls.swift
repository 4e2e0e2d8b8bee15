#if canImport(Glibc)
import Glibc
#endif

/// epoll, eventfd and accept4, resolved from libc at run time.
///
/// Swift's Glibc module does not export `<sys/epoll.h>`, `<sys/eventfd.h>` or `accept4`, and this package keeps
/// C headers in system-library targets only; these stable libc entry points are looked up with
/// `dlsym` and called through C function pointers. `struct epoll_event` is packed on x86_64
/// (12 bytes) and naturally aligned elsewhere (16 bytes); it is read and written as raw bytes.
enum Linux {
    static let eventIn: UInt32 = 0x001
    static let eventOut: UInt32 = 0x004
    static let eventErr: UInt32 = 0x008
    static let eventHup: UInt32 = 0x010
    static let eventRdHup: UInt32 = 0x2000

    static let ctlAdd: Int32 = 1
    static let ctlDel: Int32 = 2
    static let ctlMod: Int32 = 3

    static let cloexec: Int32 = 0o2000000
    static let nonblock: Int32 = 0o4000

    #if arch(x86_64)
    static let eventSize = 12
    static let dataOffset = 4
    #else
    static let eventSize = 16
    static let dataOffset = 8
    #endif

    private typealias CreateFunction = @convention(c) (Int32) -> Int32
    private typealias ControlFunction = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    private typealias WaitFunction = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    private typealias EventFDFunction = @convention(c) (UInt32, Int32) -> Int32
    private typealias Accept4Function = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32

    private static func resolve<F>(_ name: String, as type: F.Type) -> F {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) else {
            fatalError("libc does not provide \(name)")
        }
        return unsafeBitCast(symbol, to: type)
    }

    nonisolated(unsafe) private static let createFunction = resolve("epoll_create1", as: CreateFunction.self)
    nonisolated(unsafe) private static let controlFunction = resolve("epoll_ctl", as: ControlFunction.self)
    nonisolated(unsafe) private static let waitFunction = resolve("epoll_wait", as: WaitFunction.self)
    nonisolated(unsafe) private static let eventFDFunction = resolve("eventfd", as: EventFDFunction.self)
    nonisolated(unsafe) private static let accept4Function = resolve("accept4", as: Accept4Function.self)

    /// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
    static func accept(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: UnsafeMutablePointer<socklen_t>?) -> Int32 {
        accept4Function(fd, address, length, cloexec | nonblock)
    }

    static func create() -> Int32 { createFunction(cloexec) }

    static func control(_ epfd: Int32, _ op: Int32, fd: Int32, events: UInt32, data: UInt64) -> Int32 {
        withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { raw in
            raw.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: data, toByteOffset: dataOffset, as: UInt64.self)
            return controlFunction(epfd, op, fd, raw.baseAddress)
        }
    }

    static func wait(_ epfd: Int32, _ events: UnsafeMutableRawPointer, capacity: Int32, timeoutMS: Int32) -> Int32 {
        waitFunction(epfd, events, capacity, timeoutMS)
    }

    static func event(at index: Int, in events: UnsafeMutableRawPointer) -> (events: UInt32, data: UInt64) {
        let base = events + index * eventSize
        return (base.loadUnaligned(as: UInt32.self), base.loadUnaligned(fromByteOffset: dataOffset, as: UInt64.self))
    }

    static func makeEventFD() -> Int32 { eventFDFunction(0, cloexec | nonblock) }
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    /// The duration in whole nanoseconds (negative durations become 0).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
