import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy a test controls, to emulate network faults between two real peers: it listens on
/// `127.0.0.1:<ephemeral>` and forwards every connection to `upstream` (a TCP port on loopback or
/// a unix socket, e.g. the test PostgreSQL's).
///
/// `cut()` stops forwarding in both directions, silently: no byte passes, no socket is closed, no
/// FIN or RST is sent either way, and connections made during the cut are accepted but never
/// reach the upstream — as when a path drops every packet (a half-open network). Note that the
/// peers' kernels still ACK what they send to the proxy, so TCP keepalives and `tcp_user_timeout`
/// do not fire through it: what the test exercises is the peers' own timeouts (application
/// checks, the server's session timeouts). `heal()` resumes forwarding; what either side closed
/// during the cut is closed on the other side then.
///
/// ```swift
/// let proxy = try TCPProxy(upstream: .unix(path))
/// // connect to 127.0.0.1:proxy.port ...
/// proxy.cut(); ...; proxy.heal()
/// proxy.stop()
/// ```
public final class TCPProxy: @unchecked Sendable {
    public enum Upstream: Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)
        public var description: String {
            switch self {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .unix(let path): return "unix:\(path)"
            }
        }
    }

    public let upstream: Upstream
    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private let condition = NSCondition()
    private var isCut = false
    private var stopped = false
    private var sockets: Set<Int32> = []
    private var accepted = 0
    private var threads = 0

    public init(upstream: Upstream) throws {
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ProxyError("bind/listen: \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        spawn("caas-tcpproxy-accept") { [self] in acceptLoop() }
    }

    deinit { stop() }

    /// A free TCP port on 127.0.0.1 (bound and released: a small race the caller accepts), e.g. for
    /// a peer that must be told its port before the proxy in front of it exists.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw ProxyError("bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `host=127.0.0.1 port=<port>`: where to point a client.
    public var address: String { "127.0.0.1:\(port)" }

    /// Whether forwarding is stopped.
    public var cutNow: Bool { condition.lock(); defer { condition.unlock() }; return isCut }

    /// How many connections the proxy accepted so far.
    public var connections: Int { lock.lock(); defer { lock.unlock() }; return accepted }

    /// Stops forwarding in both directions (nothing is closed). Returns once no byte passes.
    public func cut() {
        condition.lock()
        isCut = true
        condition.unlock()
        // A pump in the middle of a write finishes that one chunk; every read after this point waits.
        lock.lock(); lock.unlock()
    }

    /// Forwards again.
    public func heal() {
        condition.lock()
        isCut = false
        condition.broadcast()
        condition.unlock()
    }

    /// Closes the listener and every connection.
    public func stop() {
        condition.lock()
        let already = stopped
        stopped = true
        isCut = false
        condition.broadcast()
        condition.unlock()
        guard !already else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        lock.lock()
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        lock.unlock()
        // Let the pumps see the shutdown and close their own descriptors.
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            lock.lock()
            let running = threads
            lock.unlock()
            if running == 0 { break }
            usleep(10_000)
        }
    }

    // MARK: Internals

    private var isStopped: Bool { condition.lock(); defer { condition.unlock() }; return stopped }

    /// Blocks while cut; returns false once stopped.
    private func waitWhileCut() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while isCut && !stopped { condition.wait() }
        return !stopped
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        lock.lock()
        threads += 1
        lock.unlock()
        let thread = Thread { [self] in
            body()
            lock.lock()
            threads -= 1
            lock.unlock()
        }
        thread.name = name
        thread.stackSize = 256 * 1024
        thread.start()
    }

    private func acceptLoop() {
        while !isStopped {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            lock.lock()
            accepted += 1
            sockets.insert(client)
            lock.unlock()
            spawn("caas-tcpproxy-conn") { [self] in serve(client) }
        }
    }

    private func connectUpstream() -> Int32 {
        switch upstream {
        case .tcp(let host, let port):
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(host)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if result != 0 { Glibc.close(fd); return -1 }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { Glibc.close(fd); return -1 }
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in bytes.enumerated() { buffer[index] = byte }
                buffer[bytes.count] = 0
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if result != 0 { Glibc.close(fd); return -1 }
            return fd
        }
    }

    /// One connection: waits out a cut before reaching the upstream, then pumps both ways with
    /// poll(2), reading only while not cut.
    private func serve(_ client: Int32) {
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        defer {
            lock.lock()
            sockets.remove(client)
            lock.unlock()
            Glibc.close(client)
        }
        guard waitWhileCut() else { return }
        let server = connectUpstream()
        guard server >= 0 else { return }
        lock.lock()
        sockets.insert(server)
        lock.unlock()
        defer {
            lock.lock()
            sockets.remove(server)
            lock.unlock()
            Glibc.close(server)
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var open = [true, true] // client→server, server→client
        let pairs = [(client, server), (server, client)]
        while open[0] || open[1] {
            guard waitWhileCut() else { return }
            var fds = [pollfd(fd: client, events: open[0] ? Int16(POLLIN) : 0, revents: 0),
                       pollfd(fd: server, events: open[1] ? Int16(POLLIN) : 0, revents: 0)]
            let ready = poll(&fds, 2, 50)
            if ready < 0 { if errno == EINTR { continue }; return }
            if ready == 0 { continue }
            // Hold the lock across the read and write, so `cut()` returns only between chunks.
            lock.lock()
            if cutNow { lock.unlock(); continue }
            var failed = false
            for index in 0..<2 where open[index] && fds[index].revents != 0 {
                let (from, to) = pairs[index]
                let count = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
                if count <= 0 {
                    if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    // The peer closed (or reset): pass the close on.
                    open[index] = false
                    shutdown(to, Int32(SHUT_WR))
                    if count < 0 { failed = true }
                    continue
                }
                var sent = 0
                while sent < count {
                    let n = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { if n < 0 && errno == EINTR { continue }; failed = true; break }
                    sent += n
                }
            }
            lock.unlock()
            if failed { return }
        }
    }
}

public struct ProxyError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
