#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import CaaSHTTP

private let echo = HTTPResponderClosure { request, _ in
    switch request.path {
    case "/ping":
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: .init(string: #"{"ok":true}"#))
    case "/echo":
        let body = try await request.body.collect(upTo: 1 << 20)
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: .init(bytes: body))
    case "/remote":
        return .text(request.connection.remoteAddress)
    default:
        return .text("path=\(request.path) query=\(request.query ?? "-")")
    }
}

@Suite("HTTP server over real sockets")
struct ServerLiveTests {
    @Test("keep-alive: several requests on one connection, with Date and Content-Length")
    func keepAlive() async throws {
        try await withLiveServer(responder: echo) { server in
            let client = try RawConnection.tcp(port: server.port!)
            for _ in 0..<3 {
                try await client.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == #"{"ok":true}"#)
                #expect(response.headers["Content-Length"] == "11")
                #expect(response.headers["Content-Type"] == "application/json")
                #expect(response.headers["Connection"] == nil)
                let date = try #require(response.headers["Date"])
                #expect(date.hasSuffix(" GMT") && date.count == 29)
            }
        }
    }
}
