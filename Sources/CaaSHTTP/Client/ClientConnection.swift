import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A monotonic point in time for socket deadlines.
typealias ClientDeadline = ContinuousClock.Instant

extension ContinuousClock.Instant {
    /// Milliseconds left for `poll`, at least 0; -1 for "no deadline".
    static func pollTimeout(_ deadline: ClientDeadline?) -> Int32 {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: milliseconds)
    }
}

/// One socket to an endpoint, optionally with TLS on top. Non-blocking fd; every wait is a
/// `poll` bounded by a deadline. Blocking methods run only on `ClientBlockingExecutor` threads,
/// one call at a time (the exchange that owns the connection awaits each call in turn).
///
/// `@unchecked Sendable`: `abort()` may come from any thread (task cancellation) and only calls
/// `shutdown(2)` under `lock`; `close()` takes the same lock, so an aborted fd number is never one
/// that was already closed and reused. Everything else is touched by the single owner only.
final class ClientConnection: @unchecked Sendable {
    let endpoint: HTTPClientEndpoint
    private let lock = NSLock()
    private var fd: Int32
    private var aborted = false
    private let tls: TLSSession?
    /// Plaintext read from the connection but not yet consumed.
    private var readBuffer: [UInt8] = []
    /// When the connection went back to the pool.
    var idleSince: ContinuousClock.Instant = .now
    /// Requests this connection has carried.
    var requestCount = 0

    private init(endpoint: HTTPClientEndpoint, fd: Int32, tls: TLSSession?) {
        self.endpoint = endpoint
        self.fd = fd
        self.tls = tls
    }

    deinit { close() }

    /// Connects (and completes the TLS handshake) before `connectDeadline`.
    static func connect(to endpoint: HTTPClientEndpoint, tlsContext: TLSContext?, connectDeadline: ClientDeadline,
                        deadline: ClientDeadline?) throws(HTTPClientError) -> ClientConnection {
        let fd = try ClientSocket.connect(endpoint.address, deadline: connectDeadline)
        var session: TLSSession?
        if endpoint.usesTLS {
            guard let tlsContext else {
                Glibc.close(fd)
                throw .invalidRequest("https endpoint without a TLS context")
            }
            do {
                session = try TLSSession(context: tlsContext, serverName: endpoint.tlsServerName)
            } catch {
                Glibc.close(fd)
                throw .tls(error as? TLSError ?? .protocolError("\(error)"))
            }
        }
        let connection = ClientConnection(endpoint: endpoint, fd: fd, tls: session)
        if session != nil {
            try connection.handshake(deadline: min(connectDeadline, deadline ?? connectDeadline))
        }
        return connection
    }

    var peerCertificate: PeerCertificate? { tls?.peerCertificate }

    // MARK: Cancellation and closing

    /// Unblocks any read or write in progress; the connection is unusable afterwards.
    func abort() {
        lock.lock()
        defer { lock.unlock() }
        aborted = true
        if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    var isAborted: Bool {
        lock.lock()
        defer { lock.unlock() }
        return aborted
    }

    func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// A pooled connection is usable when the peer has neither closed it nor sent anything.
    var looksReusable: Bool {
        guard fd >= 0, !isAborted, readBuffer.isEmpty else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, 0)
        return ready == 0
    }

    // MARK: Reading

    /// Returns buffered or newly read plaintext; `nil` at end of stream. Waits (poll, on the
    /// calling thread) until `deadline`.
    func read(deadline: ClientDeadline?) throws(HTTPClientError) -> [UInt8]? {
        while true {
            switch try readWithoutWaiting(flushDeadline: deadline) {
            case .data(let bytes): return bytes
            case .end: return nil
            case .wouldBlock: try wait(for: Int16(POLLIN), deadline: deadline)
            }
        }
    }

    /// What a read that does not wait found.
    enum ReadAttempt: Sendable {
        case data([UInt8])
        case end
        /// Nothing yet: wait for the socket to be readable (`ClientReadiness`), then try again.
        case wouldBlock
    }

    /// `read`, but never waiting for the socket: non-blocking calls only, so it may run on any
    /// thread. A TLS record that arrives in pieces answers `wouldBlock` until it is whole.
    /// `flushDeadline` bounds sending what TLS must answer (an alert, a key update): a few bytes.
    func readWithoutWaiting(flushDeadline: ClientDeadline? = ContinuousClock.now.advanced(by: .seconds(5))) throws(HTTPClientError) -> ReadAttempt {
        if !readBuffer.isEmpty {
            defer { readBuffer.removeAll() }
            return .data(readBuffer)
        }
        while true {
            if let tls {
                let result: TLSReadResult
                do {
                    result = try tls.readPlaintext()
                } catch {
                    try? flushTLS(deadline: flushDeadline)
                    throw .tls(error as? TLSError ?? .protocolError("\(error)"))
                }
                try flushTLS(deadline: flushDeadline)
                switch result {
                case .data(let bytes): return .data(bytes)
                case .closed: return .end
                case .wantMore: break
                }
            }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.removeSubrange(count...)
                guard let tls else { return .data(buffer) }
                tls.feed(buffer)
                continue
            }
            if count == 0 {
                if isAborted { throw .cancelled }
                return .end
            }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK { return .wouldBlock }
            if isAborted { throw .cancelled }
            if error == ECONNRESET { return .end }
            throw .io("recv: \(String(cString: strerror(error)))")
        }
    }

    /// The socket, for `ClientReadiness` to watch (the owner's task only).
    var descriptor: Int32 { fd }

    /// Puts bytes back for the next `read` (what a parser did not consume).
    func unread(_ bytes: [UInt8]) { readBuffer = bytes + readBuffer }

    private func readSocket(deadline: ClientDeadline?) throws(HTTPClientError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            try wait(for: Int16(POLLIN), deadline: deadline)
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.removeSubrange(count...)
                return buffer
            }
            if count == 0 {
                if isAborted { throw .cancelled }
                return nil
            }
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK || error == EINTR { continue }
            if isAborted { throw .cancelled }
            if error == ECONNRESET { return nil }
            throw .io("recv: \(String(cString: strerror(error)))")
        }
    }

    // MARK: Writing

    func write(_ bytes: [UInt8], deadline: ClientDeadline?) throws(HTTPClientError) {
        guard let tls else { return try writeSocket(bytes[...], deadline: deadline) }
        do {
            try tls.writePlaintext(bytes)
        } catch {
            throw .tls(error as? TLSError ?? .protocolError("\(error)"))
        }
        try flushTLS(deadline: deadline)
    }

    private func flushTLS(deadline: ClientDeadline?) throws(HTTPClientError) {
        guard let tls else { return }
        let ciphertext = tls.takeOutgoingCiphertext()
        if !ciphertext.isEmpty { try writeSocket(ciphertext[...], deadline: deadline) }
    }

    private func writeSocket(_ bytes: ArraySlice<UInt8>, deadline: ClientDeadline?) throws(HTTPClientError) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                offset += count
                continue
            }
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK || error == EINTR {
                try wait(for: Int16(POLLOUT), deadline: deadline)
                continue
            }
            if isAborted { throw .cancelled }
            if error == EPIPE || error == ECONNRESET { throw .connectionClosed }
            throw .io("send: \(String(cString: strerror(error)))")
        }
    }

    private func wait(for events: Int16, deadline: ClientDeadline?) throws(HTTPClientError) {
        while true {
            if isAborted { throw .cancelled }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&pfd, 1, ContinuousClock.Instant.pollTimeout(deadline))
            if ready > 0 { return }   // readable, writable, or an error the next call reports
            if ready == 0 { throw .timeout }
            if errno != EINTR { throw .io("poll: \(String(cString: strerror(errno)))") }
        }
    }

    private func handshake(deadline: ClientDeadline) throws(HTTPClientError) {
        guard let tls else { return }
        do throws(HTTPClientError) {
            while !tls.isHandshakeComplete {
                let result: TLSReadResult
                do {
                    result = try tls.readPlaintext()
                } catch {
                    try? flushTLS(deadline: deadline)
                    throw .tls(error as? TLSError ?? .protocolError("\(error)"))
                }
                try flushTLS(deadline: deadline)
                if case .data(let bytes) = result { readBuffer += bytes }
                if tls.isHandshakeComplete { break }
                guard let ciphertext = try readSocket(deadline: deadline) else {
                    throw .tls(.handshakeFailed("the peer closed the connection during the handshake"))
                }
                tls.feed(ciphertext)
            }
        } catch .timeout {
            throw .connectTimeout("\(endpoint) (TLS handshake)")
        }
    }
}

/// Socket creation and connection, IPv4, IPv6 and unix.
enum ClientSocket {
    static func connect(_ address: HTTPClientEndpoint.Address, deadline: ClientDeadline) throws(HTTPClientError) -> Int32 {
        switch address {
        case .unix(let path):
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: storage.sun_path)
            guard bytes.count < capacity else { throw .invalidURL("unix socket path longer than \(capacity - 1) bytes: \(path)") }
            withUnsafeMutableBytes(of: &storage.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            return try withUnsafeBytes(of: &storage) { raw throws(HTTPClientError) in
                try connect(family: AF_UNIX, address: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                            length: socklen_t(MemoryLayout<sockaddr_un>.size), target: path, deadline: deadline)
            }
        case .tcp(let host, let port):
            var lastError = HTTPClientError.hostNotFound(host)
            for candidate in try resolve(host: host, port: port) {
                do throws(HTTPClientError) {
                    return try candidate.withUnsafeBytes { raw in
                        Result { () throws(HTTPClientError) in
                            try connect(family: Int32(raw.load(fromByteOffset: 0, as: sa_family_t.self)),
                                        address: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                                        length: socklen_t(raw.count), target: describe(host: host, port: port), deadline: deadline)
                        }
                    }.get()
                } catch {
                    if case .connectTimeout = error { throw error }
                    lastError = error
                }
            }
            throw lastError
        }
    }

    private static func describe(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Literal addresses are used as they are; names go through getaddrinfo.
    static func resolve(host: String, port: Int) throws(HTTPClientError) -> [[UInt8]] {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            return [withUnsafeBytes(of: v4) { Array($0) }]
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            return [withUnsafeBytes(of: v6) { Array($0) }]
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw .hostNotFound("\(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var results: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                results.append(Array(UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen))))
            }
            cursor = entry.pointee.ai_next
        }
        if results.isEmpty { throw .hostNotFound(host) }
        return results
    }

    private static func connect(family: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, target: String,
                                deadline: ClientDeadline) throws(HTTPClientError) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connectFailed("socket: \(String(cString: strerror(errno)))") }
        var ok = false
        defer { if !ok { Glibc.close(fd) } }
        if family != AF_UNIX {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if Glibc.connect(fd, address, length) != 0 {
            var error = errno
            if error == EINPROGRESS || error == EAGAIN || error == EINTR {
                // Wait for the connection (unix sockets with a full backlog answer EAGAIN).
                while true {
                    var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    let ready = poll(&pfd, 1, ContinuousClock.Instant.pollTimeout(deadline))
                    if ready == 0 { throw .connectTimeout(target) }
                    if ready < 0 {
                        if errno == EINTR { continue }
                        throw .connectFailed("\(target): poll: \(String(cString: strerror(errno)))")
                    }
                    break
                }
                if family == AF_UNIX && error == EAGAIN {
                    // A unix socket's connect does not complete in the background: try again.
                    error = Glibc.connect(fd, address, length) == 0 ? 0 : errno
                    if error == EAGAIN { throw .connectTimeout(target) }
                } else {
                    var soError: Int32 = 0
                    var size = socklen_t(MemoryLayout<Int32>.size)
                    _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &size)
                    error = soError
                }
            }
            switch error {
            case 0: break
            case ECONNREFUSED: throw .connectionRefused(target)
            case ENOENT: throw .connectionRefused("\(target) (no such socket)")
            case ETIMEDOUT: throw .connectTimeout(target)
            default: throw .connectFailed("\(target): \(String(cString: strerror(error)))")
            }
        }
        ok = true
        return fd
    }
}
