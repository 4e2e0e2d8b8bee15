#if canImport(Glibc)
import Glibc
#endif
import Logging

/// A listening socket on the first event loop; accepted sockets go round-robin to all loops.
final class Listener: EventLoopHandler, @unchecked Sendable {
    let fd: Int32
    let address: HTTPServerConfiguration.Address
    private let core: ServerCore
    private let loop: EventLoop
    private let isUnix: Bool
    private var pausedUntil: UInt64 = 0

    init(fd: Int32, address: HTTPServerConfiguration.Address, core: ServerCore, loop: EventLoop) {
        self.fd = fd
        self.address = address
        self.core = core
        self.loop = loop
        if case .unix = address { isUnix = true } else { isUnix = false }
    }

    func handle(events: UInt32) {
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Linux.accept(fd, $0, &length) }
            }
            if client < 0 {
                let error = errno
                if error == EINTR || error == ECONNABORTED { continue }
                if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                    // Out of descriptors: stop accepting for a moment instead of spinning.
                    core.logger.error("accept failed: out of file descriptors", metadata: ["errno": "\(error)"])
                    loop.modify(fd: fd, events: 0)
                    pausedUntil = loop.now + 100_000_000
                }
                return
            }
            let remote = isUnix ? "unix" : SocketAddress.describe(&storage)
            let counted = isUnix ? nil : core.addressKey(SocketAddress.host(&storage))
            if !isUnix {
                var one: Int32 = 1
                setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            let admission = core.connectionOpened(address: counted)
            if admission != .admitted && core.tlsContext != nil {
                // No plaintext answer is possible before a handshake: refuse at accept.
                core.logger.warning(admission == .overAddress ? "connection refused: too many connections from this address"
                                                              : "connection refused: too many connections", metadata: [
                    "http.remote": "\(remote)",
                    "limit": "\(admission == .overAddress ? core.limits.maxConnectionsPerAddress : core.limits.maxConnections)",
                ])
                Glibc.close(client)
                core.connectionClosed(address: counted)
                continue
            }
            let target = core.nextLoop()
            let core = self.core
            let adopt: @Sendable () -> Void = {
                var session: TLSSession? = nil
                if let context = core.tlsContext {
                    session = try? TLSSession(context: context)
                    if session == nil {
                        Glibc.close(client)
                        core.connectionClosed(address: counted)
                        return
                    }
                }
                let connection = HTTPConnection(fd: client, loop: target, core: core, remoteAddress: remote, countedAddress: counted, tls: session)
                connection.start(admission: admission)
            }
            if target === loop { adopt() } else { target.execute(adopt) }
        }
    }

    func sweep(now: UInt64) {
        if pausedUntil != 0 && now >= pausedUntil {
            pausedUntil = 0
            loop.modify(fd: fd, events: Linux.eventIn)
        }
    }

    /// Stops listening (loop thread).
    func close() {
        loop.deregister(fd: fd)
        Glibc.close(fd)
        if case .unix(let path) = address { unlink(path) }
    }
}

/// Socket creation and address formatting.
enum SocketAddress {
    /// Binds and listens; returns the socket and the bound address (with the real port).
    static func listen(on address: HTTPServerConfiguration.Address, backlog: Int32) throws -> (Int32, HTTPServerConfiguration.Address) {
        switch address {
        case .tcp(let host, let port):
            var v4 = sockaddr_in()
            var v6 = sockaddr_in6()
            let family: Int32
            if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
                family = AF_INET
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
            } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
                family = AF_INET6
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = in_port_t(UInt16(clamping: port).bigEndian)
            } else {
                throw HTTPServerError.bindFailed(address: address.description, errno: EINVAL)
            }
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Linux.cloexec | Linux.nonblock, 0)
            guard fd >= 0 else { throw HTTPServerError.bindFailed(address: address.description, errno: errno) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 {
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            let bound: Int32 = family == AF_INET
                ? withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                : withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
                let error = errno
                Glibc.close(fd)
                throw HTTPServerError.bindFailed(address: address.description, errno: error)
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            let actualPort: Int = withUnsafePointer(to: &storage) { pointer in
                if family == AF_INET {
                    return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
                }
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return (fd, .tcp(host: host, port: actualPort))

        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let pathBytes = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: addr.sun_path)
            guard pathBytes.count < capacity else { throw HTTPServerError.bindFailed(address: address.description, errno: ENAMETOOLONG) }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, byte) in pathBytes.enumerated() { raw[i] = byte }
                raw[pathBytes.count] = 0
            }
            // Replace a stale socket file, never a regular file.
            var info = stat()
            if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Linux.cloexec | Linux.nonblock, 0)
            guard fd >= 0 else { throw HTTPServerError.bindFailed(address: address.description, errno: errno) }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
                let error = errno
                Glibc.close(fd)
                throw HTTPServerError.bindFailed(address: address.description, errno: error)
            }
            return (fd, address)
        }
    }

    /// The address alone, without its port: `127.0.0.1`, `::1`.
    static func host(_ storage: inout sockaddr_storage) -> String {
        let text = describe(&storage)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<close]) }
        if let colon = text.lastIndex(of: ":") { return String(text[..<colon]) }
        return text
    }

    /// `ip:port` (`[ip]:port` for IPv6).
    static func describe(_ storage: inout sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer -> String in
                    var address = pointer.pointee.sin_addr
                    inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                    return "\(String(cString: text)):\(UInt16(bigEndian: pointer.pointee.sin_port))"
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer -> String in
                    var address = pointer.pointee.sin6_addr
                    inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                    return "[\(String(cString: text))]:\(UInt16(bigEndian: pointer.pointee.sin6_port))"
                }
            }
        default:
            return "unknown"
        }
    }
}
