#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
@testable import CaaSHTTP

/// A blocking test client on a raw socket: exact bytes out, exact bytes in.
/// Blocking calls run on a Dispatch queue, never on Swift's cooperative threads.
final class RawConnection: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []
    private static let queue = DispatchQueue(label: "raw-connection", attributes: .concurrent)

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private init(fd: Int32, timeout: Int = 5) {
        self.fd = fd
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    /// `source`: an IPv4 address to connect from (another loopback address, say `127.0.0.2`).
    static func tcp(host: String = "127.0.0.1", port: Int, source: String? = nil, timeout: Int = 5) throws -> RawConnection {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            if let source {
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                guard inet_pton(AF_INET, source, &local.sin_addr) == 1,
                      withUnsafePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0
                else { let e = errno; Glibc.close(fd); throw Failure(description: "bind to \(source) failed: \(e)") }
            }
            let result = withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard result == 0 else { let e = errno; Glibc.close(fd); throw Failure(description: "connect failed: \(e)") }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return RawConnection(fd: fd, timeout: timeout)
        }
        guard inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 else { throw Failure(description: "bad host \(host)") }
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = in_port_t(UInt16(port).bigEndian)
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        let result = withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        guard result == 0 else { let e = errno; Glibc.close(fd); throw Failure(description: "connect failed: \(e)") }
        return RawConnection(fd: fd, timeout: timeout)
    }

    static func unix(path: String, timeout: Int = 5) throws -> RawConnection {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let result = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard result == 0 else { let e = errno; Glibc.close(fd); throw Failure(description: "connect failed: \(e)") }
        return RawConnection(fd: fd, timeout: timeout)
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            RawConnection.queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await blocking { try self.sendNow(bytes) }
    }

    func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw Failure(description: "send failed: \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; false on EOF or error.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Whether the server closed the connection (EOF or reset) within the receive timeout.
    func readsEOF() async throws -> Bool {
        try await blocking {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
                if n == 0 { return true }
                if n < 0 { return errno == ECONNRESET }
            }
        }
    }

    /// Everything until the server closes.
    func readToEnd() async throws -> [UInt8] {
        try await blocking {
            while self.fill() {}
            defer { self.buffer = [] }
            return self.buffer
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads one response (Content-Length, chunked, or until close; no body after HEAD).
    func readResponse(forHead: Bool = false) async throws -> TestResponse {
        try await blocking { try self.readResponseNow(forHead: forHead) }
    }

    func readResponseNow(forHead: Bool = false) throws -> TestResponse {
        var headEnd: Int? = nil
        while headEnd == nil {
            if let range = find([13, 10, 13, 10]) { headEnd = range; break }
            guard fill() else { throw Failure(description: "connection closed before a response head; got \(String(decoding: buffer, as: UTF8.self))") }
        }
        let headBytes = Array(buffer[0..<headEnd!])
        buffer.removeFirst(headEnd! + 4)
        let lines = String(decoding: headBytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(lines[0])") }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(name: String(line[..<colon]), value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        var body: [UInt8] = []
        if forHead || status < 200 || status == 204 || status == 304 {
            // no body
        } else if let length = headers["Content-Length"].flatMap(Int.init) {
            while buffer.count < length { guard fill() else { throw Failure(description: "short body") } }
            body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else if headers["Transfer-Encoding"]?.lowercased() == "chunked" {
            while true {
                var lineEnd = find([13, 10])
                while lineEnd == nil { guard fill() else { throw Failure(description: "short chunk") }; lineEnd = find([13, 10]) }
                let sizeText = String(decoding: buffer[0..<lineEnd!], as: UTF8.self)
                buffer.removeFirst(lineEnd! + 2)
                guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else { throw Failure(description: "bad chunk size \(sizeText)") }
                while buffer.count < size + 2 { guard fill() else { throw Failure(description: "short chunk data") } }
                body.append(contentsOf: buffer[0..<size])
                buffer.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else {
            while fill() {}
            body = buffer
            buffer = []
        }
        return TestResponse(status: status, headers: headers, body: body, head: String(decoding: headBytes, as: UTF8.self))
    }

    /// Reads the next chunk of a chunked body (after the head was read); nil at the last chunk.
    func readChunk() async throws -> [UInt8]? {
        try await blocking {
            var lineEnd = self.find([13, 10])
            while lineEnd == nil { guard self.fill() else { throw Failure(description: "closed") }; lineEnd = self.find([13, 10]) }
            let sizeText = String(decoding: self.buffer[0..<lineEnd!], as: UTF8.self)
            self.buffer.removeFirst(lineEnd! + 2)
            guard let size = Int(sizeText, radix: 16) else { throw Failure(description: "bad chunk size") }
            while self.buffer.count < size + 2 { guard self.fill() else { throw Failure(description: "closed") } }
            let data = Array(self.buffer[0..<size])
            self.buffer.removeFirst(size + 2)
            return size == 0 ? nil : data
        }
    }

    /// Reads a response head only (for streamed responses).
    func readHead() async throws -> TestResponse {
        try await blocking {
            var headEnd = self.find([13, 10, 13, 10])
            while headEnd == nil { guard self.fill() else { throw Failure(description: "closed") }; headEnd = self.find([13, 10, 13, 10]) }
            let text = String(decoding: self.buffer[0..<headEnd!], as: UTF8.self)
            self.buffer.removeFirst(headEnd! + 4)
            let lines = text.components(separatedBy: "\r\n")
            var headers = HTTPHeaders()
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.add(name: String(line[..<colon]), value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            }
            return TestResponse(status: Int(lines[0].split(separator: " ")[1]) ?? 0, headers: headers, body: [], head: text)
        }
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        var i = 0
        while i <= buffer.count - pattern.count {
            if buffer[i] == pattern[0] && Array(buffer[i..<(i + pattern.count)]) == pattern { return i }
            i += 1
        }
        return nil
    }
}

struct TestResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var head: String
    var text: String { String(decoding: body, as: UTF8.self) }
}
