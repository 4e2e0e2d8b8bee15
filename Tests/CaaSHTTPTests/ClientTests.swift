import Foundation
import Synchronization
import Testing
@testable import CaaSHTTP

/// Answers every request with its method and target, keeping the connection open.
private let echoHandler: @Sendable (ClientTestConnection) throws -> Void = { connection in
    while let request = try connection.readRequest() {
        let body = "\(request.method) \(request.target) host=\(request.headers["Host"] ?? "-") ua=\(request.headers["User-Agent"] ?? "-") body=\(request.body.count)"
        try connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }
}

private func expectError(_ expected: (HTTPClientError) -> Bool, _ body: () async throws -> Void,
                         sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("no error thrown", sourceLocation: sourceLocation)
    } catch let error as HTTPClientError {
        #expect(expected(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("HTTP client against loopback peers")
struct ClientTests {
    @Test func getOverIPv4ReturnsTheBufferedBody() async throws {
        let server = try ClientTestServer(handler: echoHandler)
        let client = try HTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/v1/apps?limit=2"))
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain")
        #expect(response.bodyText == "GET /v1/apps?limit=2 host=127.0.0.1:\(server.port) ua=caas body=0")
    }

    @Test func getOverIPv6Literal() async throws {
        guard let server = try? ClientTestServer(.ipv6, handler: echoHandler) else { return }   // no ::1 here
        let client = try HTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: "http://[::1]:\(server.port)/six"))
        #expect(response.bodyText == "GET /six host=[::1]:\(server.port) ua=caas body=0")
    }

    @Test func hostNamesResolveThroughGetaddrinfo() async throws {
        let server = try ClientTestServer(handler: echoHandler)
        let client = try HTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: "http://localhost:\(server.port)/named"))
        #expect(response.status == 200)
    }

    @Test func unixSocketInBothURLForms() async throws {
        let server = try ClientTestServer(.unix, handler: echoHandler)
        let path = try #require(server.socketPath)
        let client = try HTTPClient()
        let endpoint = try HTTPClientEndpoint("unix://\(path)")
        let first = try await client.execute(HTTPClientRequest(method: .post, endpoint: endpoint, target: "/containers/create?name=web",
                                                               body: .bytes(Array("{}".utf8))))
        #expect(first.bodyText == "POST /containers/create?name=web host=localhost ua=caas body=2")
        let encoded = path.replacingOccurrences(of: "/", with: "%2F")
        let second = try await client.execute(HTTPClientRequest(url: "http+unix://\(encoded)/_ping"))
        #expect(second.bodyText == "GET /_ping host=localhost ua=caas body=0")
        #expect(server.acceptedConnections == 1, "the second request reuses the pooled connection")
    }

    @Test func keepAliveReusesOneConnection() async throws {
        let server = try ClientTestServer(handler: echoHandler)
        let client = try HTTPClient()
        for index in 0..<5 {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/\(index)"))
            #expect(response.status == 200)
        }
        #expect(server.acceptedConnections == 1)
        #expect(client.pool.idleCount(server.endpoint) == 1)
    }

    @Test func connectionCloseIsHonoured() async throws {
        let server = try ClientTestServer { connection in
            while try connection.readRequest() != nil {
                try connection.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                return
            }
        }
        let client = try HTTPClient()
        for _ in 0..<2 {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"))
            #expect(response.bodyText == "ok")
        }
        #expect(server.acceptedConnections == 2)
        #expect(client.pool.idleCount(server.endpoint) == 0)
    }

    @Test func expiredIdleConnectionsAreNotReused() async throws {
        let server = try ClientTestServer(handler: echoHandler)
        let client = try HTTPClient(configuration: HTTPClientConfiguration(idleTimeout: .milliseconds(100)))
        _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/a"))
        try await Task.sleep(for: .milliseconds(200))
        _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/b"))
        #expect(server.acceptedConnections == 2)
    }

    /// First connection: answers one request, then drops the second without a word.
    private static func oneShotThenDropServer() throws -> ClientTestServer {
        let connections = Atomic<Int>(0)
        return try ClientTestServer { connection in
            let number = connections.add(1, ordering: .sequentiallyConsistent).newValue
            var served = 0
            while try connection.readRequest() != nil {
                if number == 1 && served == 1 { return }   // the pooled connection "breaks"
                try connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                served += 1
            }
        }
    }

    @Test func brokenPooledConnectionIsRetriedOnceForIdempotentRequests() async throws {
        let server = try Self.oneShotThenDropServer()
        let client = try HTTPClient()
        _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/first"))
        let second = try await client.execute(HTTPClientRequest(method: .put, url: "http://127.0.0.1:\(server.port)/second",
                                                                body: .bytes([1, 2, 3])))
        #expect(second.bodyText == "ok")
        #expect(server.acceptedConnections == 2)
    }

    @Test func brokenPooledConnectionIsNotRetriedForPost() async throws {
        let server = try Self.oneShotThenDropServer()
        let client = try HTTPClient()
        _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/first"))
        await expectError({ $0 == .connectionClosed }) {
            _ = try await client.execute(HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(server.port)/second"))
        }
        #expect(server.acceptedConnections == 1)
    }

    @Test func requestTimeoutFiresWhenTheServerIsSilent() async throws {
        let server = try ClientTestServer { connection in
            _ = try connection.readRequest()
            _ = connection.waitForClose(seconds: 5)
        }
        let client = try HTTPClient()
        let started = ContinuousClock.now
        await expectError({ $0 == .timeout }) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/slow"), timeout: .milliseconds(300))
        }
        let elapsed = started.duration(to: .now)
        // The error is `.timeout`, not the server's close after 5 s; the lower bound shows it waited.
        #expect(elapsed >= .milliseconds(250))
    }

    @Test func refusedConnectionsNameTheirTarget() async throws {
        let server = try ClientTestServer(handler: echoHandler)
        let port = server.port
        server.stop()
        let client = try HTTPClient()
        await expectError({ $0 == .connectionRefused("127.0.0.1:\(port)") }) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
        }
        await expectError({ $0 == .connectionRefused("/nonexistent/docker.sock (no such socket)") }) {
            _ = try await client.execute(HTTPClientRequest(endpoint: .unix(path: "/nonexistent/docker.sock"), target: "/_ping"))
        }
    }

    @Test func connectTimeoutWhenTheBacklogIsFull() async throws {
        // A listener that never accepts, its backlog filled: new SYNs are dropped.
        let server = try ClientTestServer(backlog: 0, accept: false) { _ in }
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(server.port).bigEndian)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            fillers.append(fd)
        }
        try await Task.sleep(for: .milliseconds(100))
        let client = try HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .milliseconds(300)))
        await expectError({ if case .connectTimeout = $0 { true } else { false } }) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"), timeout: .seconds(5))
        }
    }

    @Test func chunkedResponseWithTrailersOverTheWire() async throws {
        let server = try ClientTestServer { connection in
            while try connection.readRequest() != nil {
                try connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                try connection.write("4\r\nabcd\r\n")
                try connection.write("3\r\nefg\r\n0\r\nX-Sum: 7\r\n\r\n")
            }
        }
        let client = try HTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"))
        #expect(response.bodyText == "abcdefg")
        #expect(response.trailers?["X-Sum"] == "7")
        _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"))
        #expect(server.acceptedConnections == 1)
    }

    @Test func headAndNoContentResponsesLeaveTheConnectionReusable() async throws {
        let server = try ClientTestServer { connection in
            while let request = try connection.readRequest() {
                if request.method == "HEAD" {
                    try connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                } else {
                    try connection.write("HTTP/1.1 204 No Content\r\n\r\n")
                }
            }
        }
        let client = try HTTPClient()
        let head = try await client.execute(HTTPClientRequest(method: .head, url: "http://127.0.0.1:\(server.port)/image"))
        #expect(head.status == 200 && head.body.isEmpty && head.headers["Content-Length"] == "100")
        let deleted = try await client.execute(HTTPClientRequest(method: .delete, url: "http://127.0.0.1:\(server.port)/image"))
        #expect(deleted.status == 204)
        #expect(server.acceptedConnections == 1)
    }

    @Test func readUntilCloseResponse() async throws {
        let server = try ClientTestServer { connection in
            _ = try connection.readRequest()
            try connection.write("HTTP/1.0 200 OK\r\n\r\nall of it")
        }
        let client = try HTTPClient()
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"))
        #expect(response.bodyText == "all of it")
    }

    @Test func bodyLargerThanTheLimitFails() async throws {
        let server = try ClientTestServer { connection in
            while try connection.readRequest() != nil {
                try connection.write("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "x", count: 5000))
            }
        }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxResponseBodyBytes: 1000))
        await expectError({ $0 == .bodyTooLarge(limit: 1000) }) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"))
        }
    }

    @Test func invalidResponseIsReported() async throws {
        let server = try ClientTestServer { connection in
            _ = try connection.readRequest()
            try connection.write("SSH-2.0-OpenSSH_9.2\r\n\r\n")
        }
        let client = try HTTPClient()
        await expectError({ if case .invalidResponse = $0 { true } else { false } }) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/"))
        }
    }

    @Test func headerInjectionIsRefused() async throws {
        let client = try HTTPClient()
        await expectError({ if case .invalidRequest = $0 { true } else { false } }) {
            _ = try await client.execute(HTTPClientRequest(endpoint: .tcp(host: "127.0.0.1", port: 9), target: "/",
                                                           headers: ["X-Evil": "a\r\nInjected: yes"]))
        }
    }

    @Test func largeBodiesBothWays() async throws {
        let size = 8 * 1024 * 1024
        let server = try ClientTestServer { connection in
            while let request = try connection.readRequest() {
                if request.method == "GET" {
                    let payload = [UInt8](repeating: 0x61, count: size)
                    try connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n")
                    try connection.write(payload)
                } else {
                    let sum = request.body.reduce(0) { $0 &+ Int($1) }
                    try connection.write("HTTP/1.1 200 OK\r\nContent-Length: \("\(request.body.count) \(sum)".utf8.count)\r\n\r\n\(request.body.count) \(sum)")
                }
            }
        }
        let client = try HTTPClient()
        let download = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/big"))
        #expect(download.body.count == size)

        // A streamed upload, chunked, like `POST /images/create?fromSrc=-` with a tarball.
        let pieces = 128
        let piece = (0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0) }
        let stream = AsyncThrowingStream<[UInt8], Error> { continuation in
            Task {
                for _ in 0..<pieces { continuation.yield(piece) }
                continuation.finish()
            }
        }
        let upload = try await client.execute(HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(server.port)/images/create?fromSrc=-",
                                                                body: .stream(stream)))
        let expectedSum = piece.reduce(0) { $0 &+ Int($1) } * pieces
        #expect(upload.bodyText == "\(pieces * piece.count) \(expectedSum)")
        let bytes = (0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let fixed = try await client.execute(HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(server.port)/fixed", body: .bytes(bytes)))
        #expect(fixed.bodyText == "\(bytes.count) \(bytes.reduce(0) { $0 &+ Int($1) })")
        #expect(server.acceptedConnections == 1)
    }

    @Test func streamedEventsArriveBeforeTheResponseEnds() async throws {
        let release = Atomic<Bool>(false)
        let server = try ClientTestServer { connection in
            _ = try connection.readRequest()
            try connection.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            try connection.write("10\r\n{\"status\":\"one\"}\r\n")
            // The rest only comes once the client has seen the first event.
            let deadline = Date().addingTimeInterval(5)
            while !release.load(ordering: .sequentiallyConsistent) && Date() < deadline { usleep(5_000) }
            try connection.write("10\r\n{\"status\":\"two\"}\r\n0\r\n\r\n")
        }
        let client = try HTTPClient()
        let response = try await client.stream(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/events"))
        #expect(response.status == 200)
        var events: [String] = []
        for try await chunk in response.body {
            events.append(String(decoding: chunk, as: UTF8.self))
            release.store(true, ordering: .sequentiallyConsistent)
        }
        #expect(events == ["{\"status\":\"one\"}", "{\"status\":\"two\"}"])
    }

    @Test func cancellingAStreamClosesTheConnection() async throws {
        let sawClose = Atomic<Bool>(false)
        let server = try ClientTestServer { connection in
            _ = try connection.readRequest()
            try connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            if connection.waitForClose(seconds: 5) { sawClose.store(true, ordering: .sequentiallyConsistent) }
        }
        let client = try HTTPClient()
        let firstChunk = Atomic<Bool>(false)
        let task = Task {
            let response = try await client.stream(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/containers/x/logs?follow=1"))
            for try await _ in response.body { firstChunk.store(true, ordering: .sequentiallyConsistent) }
        }
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !firstChunk.load(ordering: .sequentiallyConsistent) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        task.cancel()
        _ = await task.result
        let closeDeadline = ContinuousClock.now.advanced(by: .seconds(3))
        while !sawClose.load(ordering: .sequentiallyConsistent) && ContinuousClock.now < closeDeadline { try await Task.sleep(for: .milliseconds(10)) }
        let closed = sawClose.load(ordering: .sequentiallyConsistent)
        #expect(closed)
    }

    @Test func endpointsParse() throws {
        #expect(try HTTPClientEndpoint("http://127.0.0.1:2375") == .tcp(host: "127.0.0.1", port: 2375))
        #expect(try HTTPClientEndpoint("https://[::1]:8443") == .tcp(host: "::1", port: 8443, tls: true))
        #expect(try HTTPClientEndpoint("https://localhost") == .tcp(host: "localhost", port: 443, tls: true))
        #expect(try HTTPClientEndpoint("unix:///var/run/docker.sock") == .unix(path: "/var/run/docker.sock"))
        #expect(try HTTPClientEndpoint("http+unix://%2Fvar%2Frun%2Fdocker.sock") == .unix(path: "/var/run/docker.sock"))
        let request = try HTTPClientRequest(url: "http+unix://%2Frun%2Fd.sock/containers/json?all=1")
        #expect(request.endpoint == .unix(path: "/run/d.sock") && request.target == "/containers/json?all=1")
        for bad in ["ftp://x", "http://", "http://h:0", "http://h:99999", "unix://relative", "http://[::1", "http+unix://%zz/"] {
            #expect(throws: HTTPClientError.self) { try HTTPClientEndpoint(bad) }
        }
    }
}
