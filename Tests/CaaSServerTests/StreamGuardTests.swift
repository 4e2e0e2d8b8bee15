#if canImport(Glibc)
import Glibc
#endif
import CaaSHTTP
@testable import CaaSServer
import Foundation
import Logging
import Testing

/// Issue 12 item 4, over real sockets: event streams hold one of a bounded number of places per
/// tenant, and end when their token is revoked or their tenant suspended.
@Suite(.serialized) struct StreamGuardTests {
    /// A client of one server-sent event stream on its own socket.
    final class StreamClient: @unchecked Sendable {
        let fd: Int32
        private(set) var received = ""

        init(port: Int, token: String) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
            let head = Array("GET /v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8)
            _ = send(fd, head, head.count, 0)
        }

        deinit { close(fd) }

        /// Reads what arrives within `seconds`; true when the server ended the stream (the last
        /// chunk, or the connection closed).
        func read(for seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while Date() < deadline {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 100) > 0 else { continue }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { return true }
                received += String(decoding: buffer[..<count], as: UTF8.self)
                if received.hasSuffix("\r\n0\r\n\r\n") || (!received.hasPrefix("HTTP/1.1 200") && received.contains("\r\n\r\n{")) {
                    return true
                }
            }
            return false
        }

        var status: String { String(received.prefix(12)) }
    }

    static func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test(.timeLimit(.minutes(2)))
    func streamsAreCappedPerTenantAndEndWhenTheirTokenIsRevokedOrTheTenantSuspended() async throws {
        let api = try await APIHarness.make("stream_guard") { settings in
            settings.maximumStreamsPerTenant = 2
            settings.streamRecheckSeconds = 1
        }
        var logger = Logger(label: "test.streams")
        logger.logLevel = .error
        let plane = ControlPlane(store: api.plane.store, settings: api.plane.settings, logger: logger)
        let server = try HTTPServer(configuration: HTTPServerConfiguration(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1),
                                    responder: plane.makeResponder(), logger: logger)
        try server.start()
        let port = try #require(server.port)
        let alpha = try await api.makeTenant("alpha")
        let beta = try await api.makeTenant("beta")

        // Two places per tenant: the third stream of alpha is refused, beta's first is not.
        let viewer = try StreamClient(port: port, token: alpha.tokens["viewer"]!)
        let operatorStream = try StreamClient(port: port, token: alpha.tokens["operator"]!)
        #expect(!viewer.read(for: 0.5) && viewer.status == "HTTP/1.1 200", "\(viewer.received)")
        #expect(!operatorStream.read(for: 0.5) && operatorStream.status == "HTTP/1.1 200", "\(operatorStream.received)")
        let third = try StreamClient(port: port, token: alpha.tokens["admin"]!)
        #expect(third.read(for: 2) && third.status == "HTTP/1.1 429", "\(third.received)")
        #expect(third.received.contains("too many open streams for this tenant (at most 2)"), "\(third.received)")
        let neighbour = try StreamClient(port: port, token: beta.tokens["viewer"]!)
        #expect(!neighbour.read(for: 0.5) && neighbour.status == "HTTP/1.1 200", "\(neighbour.received)")
        #expect(plane.streams.openCount(tenantID: alpha.id) == 2)

        // Revoking the viewer's token ends its stream within a check or two; the other goes on.
        let revoked = try await api.call("DELETE", "/v1/tokens/\(alpha.tokenIDs["viewer"]!)", token: alpha.tokens["admin"])
        #expect(revoked.status == 200, "\(revoked.text)")
        #expect(viewer.read(for: 4), "the revoked token's stream ended: \(viewer.received)")
        #expect(!operatorStream.read(for: 0.2), "the operator's stream goes on")
        // Its place is free again.
        #expect(await Self.eventually(3) { plane.streams.openCount(tenantID: alpha.id) == 1 })
        let again = try StreamClient(port: port, token: alpha.tokens["admin"]!)
        #expect(!again.read(for: 0.5) && again.status == "HTTP/1.1 200", "\(again.received)")

        // Suspending alpha ends every stream of it; beta's stays.
        let suspended = try await api.call("POST", "/v1/tenants/\(alpha.id)/suspend", token: api.systemToken, body: #"{"reason":"unpaid"}"#)
        #expect(suspended.status == 200, "\(suspended.text)")
        #expect(operatorStream.read(for: 4), "the suspended tenant's stream ended")
        #expect(again.read(for: 4), "the suspended tenant's stream ended")
        #expect(!neighbour.read(for: 0.2), "another tenant's stream goes on")
        #expect(await Self.eventually(3) { plane.streams.openCount(tenantID: alpha.id) == 0 })
        await server.shutdown(gracePeriod: .milliseconds(200))
    }
}
