#if canImport(Glibc)
import Glibc
#endif
import CaaSHTTP
@testable import CaaSServer
import Foundation
import Logging
import Testing

/// Issue 12 item 4: a large request body is not read before its caller is authenticated.
@Suite struct BodyBeforeAuthenticationTests {
    /// Sends `head` on a fresh connection and answers the status line that comes back within
    /// `seconds` (nil when none does), never sending a byte of the body the head announces.
    static func statusLine(port: Int, head: String, seconds: Int32 = 5) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes = Array(head.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { return nil }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, seconds * 1000) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\r\n").first.map(String.init)
    }

    @Test func aLargeBodyIsAnsweredBeforeItIsReadWhenTheCallerIsNotAuthenticated() async throws {
        let h = try await AgentChannelHarness.make("body_before_auth")
        defer { Task { await h.stop() } }
        let (api, port) = (h.api, try #require(h.server.port))
        func head(_ path: String, token: String?, length: Int) -> String {
            "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n"
                + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "") + "\r\n"
        }
        let garbage = "caas_" + String(repeating: "g", count: 52)
        // 4 MB announced, none sent: the answer comes anyway, without waiting for the body.
        let unauthenticated = Self.statusLine(port: port, head: head("/v1/apps", token: garbage, length: 4_000_000))
        #expect(unauthenticated?.hasPrefix("HTTP/1.1 401") == true, "\(String(describing: unauthenticated))")
        let anonymous = Self.statusLine(port: port, head: head("/v1/agent/join", token: nil, length: 4_000_000))
        #expect(anonymous?.hasPrefix("HTTP/1.1 413") == true, "\(String(describing: anonymous))")
        // An authenticated caller's large body is read (and here waited for).
        let authenticated = Self.statusLine(port: port, head: head("/v1/tenants", token: api.systemToken, length: 100_000), seconds: 1)
        #expect(authenticated == nil, "the server waits for the body of an authenticated caller")
        let nowhere = Self.statusLine(port: port, head: head("/v1/nowhere", token: nil, length: 4_000_000))
        #expect(nowhere?.hasPrefix("HTTP/1.1 404") == true, "\(String(describing: nowhere))")
    }
}
