#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Waits for client sockets to become readable without holding a thread per socket: one epoll
/// thread for the whole process resumes the waiting tasks. A streamed response that is quiet for
/// hours (a followed log) costs a registration here, not a blocked thread.
final class ClientReadiness: Sendable {
    static let shared = ClientReadiness()

    private let epfd: Int32
    private let waiters = Mutex<[UInt64: CheckedContinuation<Void, any Error>]>([:])
    private let nextID = Atomic<UInt64>(1)

    private init() {
        epfd = Linux.create()
        let thread = Thread { [self] in run() }
        thread.name = "caas.http-client.readiness"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Returns once `fd` is readable (or hung up, or in error: the next read tells which).
    /// Throws `CancellationError` when the task is cancelled first.
    func waitReadable(_ fd: Int32) async throws {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        // Fired (one-shot) or cancelled: removed either way, so the fd may be closed and its
        // number reused.
        defer { _ = Linux.control(epfd, Linux.ctlDel, fd: fd, events: 0, data: 0) }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waiters.withLock { $0[id] = continuation }
                if Task.isCancelled {
                    waiters.withLock { $0.removeValue(forKey: id) }?.resume(throwing: CancellationError())
                    return
                }
                let events = Linux.eventIn | Linux.eventRdHup | Self.oneShot
                if Linux.control(epfd, Linux.ctlAdd, fd: fd, events: events, data: id) != 0 {
                    // Already registered by an earlier wait that was cancelled: re-arm it.
                    if Linux.control(epfd, Linux.ctlMod, fd: fd, events: events, data: id) != 0 {
                        let error = errno
                        waiters.withLock { $0.removeValue(forKey: id) }?.resume(throwing: POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO))
                    }
                }
            }
        } onCancel: {
            waiters.withLock { $0.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    static let oneShot: UInt32 = 1 << 30

    private func run() {
        let capacity: Int32 = 64
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(capacity) * Linux.eventSize, alignment: 8)
        while true {
            let count = Linux.wait(epfd, buffer, capacity: capacity, timeoutMS: -1)
            if count < 0 { continue }
            for index in 0..<Int(count) {
                let id = Linux.event(at: index, in: buffer).data
                waiters.withLock { $0.removeValue(forKey: id) }?.resume()
            }
        }
    }
}
