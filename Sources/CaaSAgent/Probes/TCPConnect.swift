import CaaSModel
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection attempt with a deadline, on a Dispatch thread (the blocking `poll` never
/// runs on the Swift concurrency pool).
enum TCPConnect {
    /// `nil` when a connection opened (and was closed again), else why not.
    static func attempt(host: String, port: Int, timeoutSeconds: Double) async -> String? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: blockingAttempt(host: host, port: port, timeoutSeconds: timeoutSeconds))
            }
        }
    }

    private static func blockingAttempt(host: String, port: Int, timeoutSeconds: Double) -> String? {
        var address4 = in_addr()
        var address6 = in6_addr()
        let isV4 = inet_pton(AF_INET, host, &address4) == 1
        guard isV4 || inet_pton(AF_INET6, host, &address6) == 1 else { return "not an IP address: \(host)" }
        let fd = socket(isV4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var result: Int32
        if isV4 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr = address4
            result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = address6
            result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        if result == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&descriptor, 1, Int32(saturating: max(1, timeoutSeconds * 1000)))
        if ready == 0 { return "connect timed out after \(timeoutSeconds) s" }
        if ready < 0 { return "poll: \(String(cString: strerror(errno)))" }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0 ? nil : String(cString: strerror(error))
    }
}
