import Foundation
import Synchronization
@testable import CaaSHTTP

/// A tiny scripted HTTP/1.1 server for client tests: raw sockets on 127.0.0.1, ::1 or a unix
/// socket, optionally TLS through our own `TLSSession`. Each accepted connection runs `handler`
/// on its own thread. Loopback only.
final class ClientTestServer: @unchecked Sendable {
    enum Listen { case ipv4, ipv6, unix }

    let endpoint: HTTPClientEndpoint
    let port: Int
    let socketPath: String?
    private let listener: Int32
    private let accepted = Atomic<Int>(0)
    private let tls: TLSContext?
    private let handler: @Sendable (ClientTestConnection) throws -> Void
    private let stopped = Atomic<Bool>(false)

    var acceptedConnections: Int { accepted.load(ordering: .sequentiallyConsistent) }

    init(_ listen: Listen = .ipv4, ipv4Address: String = "127.0.0.1", tls: TLSContext? = nil, backlog: Int32 = 64, accept: Bool = true,
         handler: @escaping @Sendable (ClientTestConnection) throws -> Void) throws {
        self.tls = tls
        self.handler = handler
        switch listen {
        case .ipv4, .ipv6:
            let family = listen == .ipv4 ? AF_INET : AF_INET6
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if listen == .ipv4 {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr(ipv4Address)
                _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            } else {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_addr = in6addr_loopback
                let status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
                if status != 0 { throw TestServerError("IPv6 loopback unavailable") }
            }
            guard Glibc.listen(fd, backlog) == 0 else { throw TestServerError("listen failed") }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            let port = withUnsafeBytes(of: storage) { raw in UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)) }
            self.listener = fd
            self.port = Int(port)
            self.socketPath = nil
            self.endpoint = .tcp(host: listen == .ipv4 ? ipv4Address : "::1", port: Int(port), tls: tls != nil)
        case .unix:
            let path = FileManager.default.temporaryDirectory.path + "/caas-client-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                let bytes = Array(path.utf8)
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard status == 0, Glibc.listen(fd, backlog) == 0 else { throw TestServerError("unix listen failed") }
            self.listener = fd
            self.port = 0
            self.socketPath = path
            self.endpoint = HTTPClientEndpoint(address: .unix(path: path), usesTLS: tls != nil)
        }
        if accept {
            let thread = Thread { [self] in acceptLoop() }
            thread.start()
        }
    }

    deinit { stop() }

    func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        if let socketPath { unlink(socketPath) }
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let fd = Glibc.accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            accepted.add(1, ordering: .sequentiallyConsistent)
            let connection: ClientTestConnection
            do {
                connection = try ClientTestConnection(fd: fd, tls: tls.map { try TLSSession(context: $0) })
            } catch {
                Glibc.close(fd)
                continue
            }
            let handler = self.handler
            let thread = Thread {
                defer { connection.close() }
                try? handler(connection)
            }
            thread.start()
        }
    }
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A request as the test server saw it.
struct ClientTestRequest: Sendable {
    var method: String
    var target: String
    var headers: HTTPClientHeaders
    var body: [UInt8]
}

/// One accepted connection, blocking I/O, used by one handler thread.
final class ClientTestConnection: @unchecked Sendable {
    private let fd: Int32
    private let tls: TLSSession?
    private var buffer: [UInt8] = []
    private var closed = false
    /// The client's certificate, after the TLS handshake.
    var peerCertificate: PeerCertificate? { tls?.peerCertificate }

    init(fd: Int32, tls: TLSSession?) throws {
        self.fd = fd
        self.tls = tls
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let tls {
            tls.close()
            try? sendRaw(tls.takeOutgoingCiphertext())
        }
        Glibc.close(fd)
    }

    /// Reads one request (head and Content-Length or chunked body); nil at end of stream.
    func readRequest() throws -> ClientTestRequest? {
        guard let headEnd = try fill(until: { $0.firstRange(of: [13, 10, 13, 10]) }) else { return nil }
        let headText = String(decoding: buffer[..<headEnd.lowerBound], as: UTF8.self)
        buffer.removeSubrange(..<headEnd.upperBound)
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers = HTTPClientHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw TestServerError("bad header line \(line)") }
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body: [UInt8] = []
        if headers["Transfer-Encoding"] == "chunked" {
            while true {
                guard let lineEnd = try fill(until: { $0.firstRange(of: [13, 10]) }) else { throw TestServerError("eof in chunk size") }
                let size = Int(String(decoding: buffer[..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? -1
                buffer.removeSubrange(..<lineEnd.upperBound)
                guard size >= 0 else { throw TestServerError("bad chunk size") }
                guard try fill(until: { $0.count >= size + 2 ? 0..<(size + 2) : nil }) != nil else { throw TestServerError("eof in chunk") }
                body += buffer[..<size]
                buffer.removeSubrange(..<(size + 2))
                if size == 0 { break }
            }
        } else if let length = headers["Content-Length"].flatMap(Int.init), length > 0 {
            guard try fill(until: { $0.count >= length ? 0..<length : nil }) != nil else { throw TestServerError("eof in body") }
            body = Array(buffer[..<length])
            buffer.removeSubrange(..<length)
        }
        return ClientTestRequest(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) throws {
        if let tls {
            try tls.writePlaintext(bytes)
            try sendRaw(tls.takeOutgoingCiphertext())
        } else {
            try sendRaw(bytes)
        }
    }

    /// Blocks until the peer closes the connection (or `seconds` pass); true when it closed.
    func waitForClose(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 50) > 0 {
                var byte: UInt8 = 0
                let count = recv(fd, &byte, 1, 0)
                if count <= 0 { return true }
            }
        }
        return false
    }

    private func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw TestServerError("send failed: \(errno)") }
            offset += count
        }
    }

    /// Reads until `found` finds something in the buffer; nil when the peer closed first.
    private func fill<T>(until found: ([UInt8]) -> T?) throws -> T? {
        while true {
            if let result = found(buffer) { return result }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            chunk.removeSubrange(count...)
            if let tls {
                tls.feed(chunk)
                while true {
                    let result = try tls.readPlaintext()
                    try sendRaw(tls.takeOutgoingCiphertext())
                    if case .data(let bytes) = result { buffer += bytes; continue }
                    if case .closed = result { return found(buffer) }
                    break
                }
            } else {
                buffer += chunk
            }
        }
    }
}
