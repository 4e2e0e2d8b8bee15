#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import CaaSHTTP

/// A small responder for the live tests.
let liveResponder = HTTPResponderClosure { request, _ in
    switch request.path {
    case "/ping":
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: .init(string: #"{"ok":true}"#))
    case "/echo":
        let body = try await request.body.collect(upTo: 1 << 20)
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: .init(bytes: body))
    case "/slow":
        try await Task.sleep(for: .milliseconds(100))
        return .text("slow")
    case "/fast":
        return .text("fast")
    case "/remote":
        return .text(request.connection.remoteAddress)
    case "/unauthorized":
        return HTTPResponse(status: .unauthorized)
    case "/big":
        return HTTPResponse(body: .init(bytes: [UInt8](repeating: 0x61, count: 3 * 1024 * 1024 + 7)))
    case "/stream-big":
        return .stream { writer in
            for _ in 0..<64 { try await writer.write([UInt8](repeating: 0x62, count: 64 * 1024)) }
        }
    case "/throw":
        struct Internal: Error {}
        throw Internal()
    default:
        return .text("path=\(request.path) query=\(request.query ?? "-")")
    }
}

@Suite("HTTP server over real sockets")
struct ServerLiveTests {
    @Test("keep-alive: several requests on one connection, with Date and Content-Length")
    func keepAlive() async throws {
        try await withLiveServer(responder: liveResponder) { server in
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

    @Test("handlers on the global executor answer too", arguments: [HTTPServerConfiguration.HandlerExecution.globalExecutor, .eventLoop])
    func executionModes(mode: HTTPServerConfiguration.HandlerExecution) async throws {
        try await withLiveServer(execution: mode, responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            #expect(try await client.readResponse().text == "hello")
            try await client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "slow")
        }
    }

    @Test("pipelining: a slow first request is still answered before a fast second")
    func pipeliningOrder() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "slow")
            #expect(try await client.readResponse().text == "fast")
            #expect(try await client.readResponse().status == 200)
        }
    }

    @Test("chunked request body is de-chunked for the handler")
    func chunkedRequest() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n")
            try await client.send("5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.text == "Wikipedia")
            // The connection stays usable.
            try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "fast")
        }
    }

    @Test("100 Continue is sent when the handler reads the body, never when it does not")
    func expectContinue() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            let interim = try await client.readHead()
            #expect(interim.status == 100)
            try await client.send("data")
            let final = try await client.readResponse()
            #expect(final.status == 200 && final.text == "data")

            let other = try RawConnection.tcp(port: server.port!)
            try await other.send("PUT /unauthorized HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            let refused = try await other.readResponse()
            #expect(refused.status == 401)
            #expect(refused.headers["Connection"] == "close")
            #expect(try await other.readsEOF())
        }
    }

    @Test("a handler that answers without reading the body: the body is discarded, the connection reused")
    func unreadBodyDiscarded() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "fast")
            #expect(try await client.readResponse().status == 200)
        }
    }

    @Test("HEAD: no body, the Content-Length of the GET")
    func head() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse(forHead: true)
            #expect(response.status == 200)
            #expect(response.headers["Content-Length"] == "11")
            // Had a body been sent, it would be read as the next response's start.
            try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "fast")
        }
    }

    @Test("HTTP/1.0: closed after the response unless keep-alive is asked for")
    func http10() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let plain = try RawConnection.tcp(port: server.port!)
            try await plain.send("GET /fast HTTP/1.0\r\n\r\n")
            let response = try await plain.readResponse()
            #expect(response.text == "fast")
            #expect(response.headers["Connection"] == "close")
            #expect(try await plain.readsEOF())

            let keep = try RawConnection.tcp(port: server.port!)
            try await keep.send("GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let first = try await keep.readResponse()
            #expect(first.headers["Connection"] == "keep-alive")
            try await keep.send("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await keep.readResponse().status == 200)

            // A streamed body to an HTTP/1.0 client is delimited by the close.
            let stream = try RawConnection.tcp(port: server.port!)
            try await stream.send("GET /stream-big HTTP/1.0\r\n\r\n")
            let streamed = try await stream.readResponse()
            #expect(streamed.body.count == 64 * 64 * 1024)
            #expect(streamed.headers["Transfer-Encoding"] == nil)
        }
    }

    @Test("Connection: close from the client ends the connection after the response")
    func connectionClose() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.headers["Connection"] == "close")
            #expect(try await client.readsEOF())
        }
    }

    @Test("malformed requests get 400 problem+json and the connection is closed")
    func badRequestLive() async throws {
        let logs = LogCapture()
        try await withLiveServer(logs: logs, responder: liveResponder) { server in
            for bad in ["GET / HTTP/1.1\nHost: x\n\n", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"] {
                let client = try RawConnection.tcp(port: server.port!)
                try await client.send(bad)
                let response = try await client.readResponse()
                #expect(response.status == 400)
                #expect(response.headers["Content-Type"] == "application/problem+json")
                #expect(response.headers["Connection"] == "close")
                #expect(try await client.readsEOF())
            }
            #expect(logs.contains("request rejected", "http.status", "400"))
        }
    }

    @Test("limits: 414, 431 (size and count), 413 (declared and chunked), each logged")
    func limits() async throws {
        let logs = LogCapture()
        var limits = HTTPServerLimits()
        limits.maxURILength = 64
        limits.maxHeaderSize = 256
        limits.maxHeaderCount = 5
        limits.maxBodySize = 16
        try await withLiveServer(limits: limits, logs: logs, responder: liveResponder) { server in
            let cases: [(String, Int)] = [
                ("GET /" + String(repeating: "u", count: 100) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
                ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "h", count: 300) + "\r\n\r\n", 431),
                ("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", 431),
                ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n", 413),
                ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n", 413),
            ]
            for (text, status) in cases {
                let client = try RawConnection.tcp(port: server.port!)
                try await client.send(text)
                let response = try await client.readResponse()
                #expect(response.status == status, "\(text.prefix(40))")
                #expect(try await client.readsEOF())
                #expect(logs.contains("request rejected", "http.status", "\(status)"))
            }
        }
    }

    @Test("slowloris: header and body read timeouts answer 408; idle keep-alive closes silently")
    func timeouts() async throws {
        let logs = LogCapture()
        var limits = HTTPServerLimits()
        limits.headerReadTimeout = .milliseconds(150)
        limits.bodyReadTimeout = .milliseconds(150)
        limits.idleTimeout = .milliseconds(150)
        try await withLiveServer(limits: limits, logs: logs, responder: liveResponder) { server in
            let slowHead = try RawConnection.tcp(port: server.port!)
            try await slowHead.send("GET / HTTP/1.1\r\nHost: x\r\n")
            let headTimeout = try await slowHead.readResponse()
            #expect(headTimeout.status == 408)
            #expect(try await slowHead.readsEOF())

            let slowBody = try RawConnection.tcp(port: server.port!)
            try await slowBody.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            let bodyTimeout = try await slowBody.readResponse()
            #expect(bodyTimeout.status == 408)
            #expect(try await slowBody.readsEOF())

            let idle = try RawConnection.tcp(port: server.port!)
            try await idle.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await idle.readResponse().text == "fast")
            #expect(try await idle.readToEnd().isEmpty)   // closed without a word
            #expect(logs.contains("request rejected", "reason", "header read timeout"))
            #expect(logs.contains("request rejected", "reason", "body read timeout"))
        }
    }

    @Test("max connections: the connection over the limit gets 503 and is closed")
    func maxConnections() async throws {
        var limits = HTTPServerLimits()
        limits.maxConnections = 2
        let logs = LogCapture()
        try await withLiveServer(limits: limits, logs: logs, responder: liveResponder) { server in
            let first = try RawConnection.tcp(port: server.port!)
            let second = try RawConnection.tcp(port: server.port!)
            for client in [first, second] {
                try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
            }
            let third = try RawConnection.tcp(port: server.port!)
            try await third.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = try await third.readResponse()
            #expect(refused.status == 503)
            #expect(refused.headers["Retry-After"] == "1")
            #expect(try await third.readsEOF())
            #expect(logs.contains("connection refused: too many connections"))
            // Once a slot frees up, connections are served again.
            first.shutdownWrite()
            #expect(try await first.readsEOF())
            #expect(try await eventually { server.connectionCount <= 1 })
            let fourth = try RawConnection.tcp(port: server.port!)
            try await fourth.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await fourth.readResponse().status == 200)
        }
    }

    @Test("connections per address: the one over the cap gets 429 and is closed; other addresses and exempt ones are served")
    func maxConnectionsPerAddress() async throws {
        var limits = HTTPServerLimits()
        limits.maxConnectionsPerAddress = 3
        let logs = LogCapture()
        try await withLiveServer(limits: limits, logs: logs, exemptFromAddressLimit: { $0 == "127.0.0.3" }, responder: liveResponder) { server in
            let port = server.port!
            var held: [RawConnection] = []
            for _ in 0..<3 {
                let client = try RawConnection.tcp(port: port)
                try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
                held.append(client)
            }
            let refused = try RawConnection.tcp(port: port)
            try await refused.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try await refused.readResponse()
            #expect(answer.status == 429)
            #expect(answer.headers["Retry-After"] == "1")
            #expect(String(decoding: answer.body, as: UTF8.self).contains("at most 3"))
            #expect(try await refused.readsEOF())
            #expect(logs.contains("connection refused: too many connections from this address"))

            // Another client address is not held back by the first one's connections.
            let other = try RawConnection.tcp(port: port, source: "127.0.0.2")
            try await other.send("GET /remote HTTP/1.1\r\nHost: x\r\n\r\n")
            let otherAnswer = try await other.readResponse()
            #expect(otherAnswer.status == 200)
            #expect(String(decoding: otherAnswer.body, as: UTF8.self).hasPrefix("127.0.0.2:"))
            // An exempt address (a trusted proxy) is never counted.
            var proxied: [RawConnection] = []
            for _ in 0..<5 {
                let client = try RawConnection.tcp(port: port, source: "127.0.0.3")
                try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
                proxied.append(client)
            }

            // A closed connection gives its place back.
            held[0].shutdownWrite()
            #expect(try await held[0].readsEOF())
            #expect(try await eventually { server.connectionCount <= 2 + 1 + 5 })
            let again = try RawConnection.tcp(port: port)
            try await again.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await again.readResponse().status == 200)
            _ = (held, proxied)
        }
    }

    @Test("large bodies with backpressure: 3 MiB bytes and 4 MiB streamed arrive whole")
    func largeResponses() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            let big = try await client.readResponse()
            #expect(big.body.count == 3 * 1024 * 1024 + 7)
            try await client.send("GET /stream-big HTTP/1.1\r\nHost: x\r\n\r\n")
            let streamed = try await client.readResponse()
            #expect(streamed.headers["Transfer-Encoding"] == "chunked")
            #expect(streamed.body.count == 64 * 64 * 1024)
            #expect(streamed.body.allSatisfy { $0 == 0x62 })
        }
    }

    @Test("streamed response: chunks arrive as written; a client that leaves is noticed by the writer")
    func streamAndDisconnect() async throws {
        let noticed = Gate()
        let responder = HTTPResponderClosure { _, _ in
            .stream(headers: ["Content-Type": "text/event-stream"]) { writer in
                var n = 0
                do {
                    while true {
                        try await writer.write("data: \(n)\n\n")
                        n += 1
                        try await Task.sleep(for: .milliseconds(10))
                    }
                } catch {
                    noticed.open()
                    throw error
                }
            }
        }
        try await withLiveServer(responder: responder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try await client.readHead()
            #expect(head.headers["Transfer-Encoding"] == "chunked")
            #expect(head.headers["Content-Type"] == "text/event-stream")
            #expect(try await client.readChunk() == Array("data: 0\n\n".utf8))
            #expect(try await client.readChunk() == Array("data: 1\n\n".utf8))
            Glibc.shutdown(client.fd, Int32(SHUT_RDWR))
            await noticed.wait()
            #expect(try await eventually { server.connectionCount == 0 })
        }
    }

    @Test("a handler error without middleware becomes a bare 500 problem")
    func uncaughtError() async throws {
        try await withLiveServer(responder: liveResponder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 500)
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(!response.text.contains("Internal()"))
        }
    }

    @Test("IPv6 ::1 and a unix socket serve alongside IPv4")
    func ipv6AndUnix() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caas-http-\(getpid())-\(UInt16.random(in: 0...9999)).sock").path
        try await withLiveServer(addresses: [.tcp(host: "127.0.0.1", port: 0), .tcp(host: "::1", port: 0), .unix(path: path)],
                                 responder: liveResponder) { server in
            guard case .tcp(_, let v6Port) = server.addresses[1] else { Issue.record("no v6"); return }
            let v6 = try RawConnection.tcp(host: "::1", port: v6Port)
            try await v6.send("GET /remote HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await v6.readResponse().text.hasPrefix("[::1]:"))
            let unix = try RawConnection.unix(path: path)
            try await unix.send("GET /remote HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await unix.readResponse().text == "unix")
            let v4 = try RawConnection.tcp(port: server.port!)
            try await v4.send("GET /remote HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await v4.readResponse().text.hasPrefix("127.0.0.1:"))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("graceful shutdown: the request in flight completes, idle connections close, new ones are refused")
    func gracefulShutdown() async throws {
        let release = Gate()
        let entered = Gate()
        let responder = HTTPResponderClosure { request, _ in
            if request.path == "/hold" {
                entered.open()
                await release.wait()
                return .text("finished")
            }
            return .text("ok")
        }
        let configuration = HTTPServerConfiguration(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 2)
        let server = try HTTPServer(configuration: configuration, responder: responder, logger: LogCapture().logger)
        try server.start()
        let port = server.port!
        let busy = try RawConnection.tcp(port: port)
        let idle = try RawConnection.tcp(port: port)
        try await idle.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await idle.readResponse().text == "ok")
        try await busy.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        await entered.wait()

        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(5)) }
        #expect(try await idle.readsEOF())
        #expect(throws: (any Error).self) { _ = try RawConnection.tcp(port: port) }
        release.open()
        let response = try await busy.readResponse()
        #expect(response.text == "finished")
        #expect(response.headers["Connection"] == "close")
        #expect(try await busy.readsEOF())
        await shutdown.value
        #expect(server.connectionCount == 0)
    }

    @Test("shutdown deadline: a request that will not finish is cut off")
    func shutdownDeadline() async throws {
        let entered = Gate()
        let responder = HTTPResponderClosure { _, _ in
            entered.open()
            try await Task.sleep(for: .seconds(30))
            return .text("never")
        }
        let server = try HTTPServer(configuration: .init(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1),
                                    responder: responder, logger: LogCapture().logger)
        try server.start()
        let client = try RawConnection.tcp(port: server.port!)
        try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await entered.wait()
        let start = ContinuousClock.now
        await server.shutdown(gracePeriod: .milliseconds(200))
        // Far below the handler's 30 s: the deadline cut it off (loose for loaded machines).
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(try await client.readToEnd().isEmpty)
    }
}

@Suite("HTTP server signals")
struct ServerSignalTests {
    @Test("SIGUSR2 configured as a shutdown signal stops the server gracefully")
    func signalShutdown() async throws {
        let server = try HTTPServer(configuration: .init(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1),
                                    responder: liveResponder, logger: LogCapture().logger)
        try server.start()
        let handler = server.shutdownOnSignals([SIGUSR2], gracePeriod: .seconds(1))
        defer { handler.cancel() }
        kill(getpid(), SIGUSR2)
        await server.waitUntilStopped()
        #expect(throws: (any Error).self) { _ = try RawConnection.tcp(port: server.port!) }
    }

    @Test("run() serves until its task is cancelled, then shuts down")
    func runUntilCancelled() async throws {
        let server = try HTTPServer(configuration: .init(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1),
                                    responder: liveResponder, logger: LogCapture().logger)
        let running = Task { try await server.run(gracePeriod: .seconds(1)) }
        #expect(try await eventually { server.port != nil })
        let client = try RawConnection.tcp(port: server.port!)
        try await client.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse().text == "fast")
        running.cancel()
        try await running.value
        #expect(try await client.readsEOF())
    }
}

@Suite("HTTP server write backpressure")
struct ServerBackpressureTests {
    @Test("a client that stops reading: the writer is held back, then the write timeout closes the connection")
    func slowReader() async throws {
        let failed = Gate()
        let written = Mutex(0)
        let responder = HTTPResponderClosure { _, _ in
            .stream { writer in
                let piece = [UInt8](repeating: 0x63, count: 64 * 1024)
                do {
                    while true {
                        try await writer.write(piece)
                        written.withLock { $0 += piece.count }
                    }
                } catch {
                    failed.open()
                    throw error
                }
            }
        }
        var limits = HTTPServerLimits()
        limits.writeTimeout = .milliseconds(200)
        let logs = LogCapture()
        try await withLiveServer(limits: limits, logs: logs, responder: responder) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
            await failed.wait()
            // Kernel buffers absorb some megabytes; the server itself queues at most its watermark.
            #expect(written.withLock { $0 } < 48 * 1024 * 1024)
            #expect(logs.contains("write timeout: client stopped reading"))
            #expect(try await eventually { server.connectionCount == 0 })
        }
    }

    @Test("a large upload read slowly by the handler arrives whole (read backpressure)")
    func slowConsumer() async throws {
        let responder = HTTPResponderClosure { request, _ in
            var total = 0
            var sum = 0
            for try await piece in request.body {
                total += piece.count
                sum &+= piece.reduce(0) { $0 &+ Int($1) }
                if total % (256 * 1024) < piece.count { try await Task.sleep(for: .milliseconds(1)) }
            }
            return .text("\(total) \(sum)")
        }
        try await withLiveServer(responder: responder) { server in
            let size = 3 * 1024 * 1024
            let body = [UInt8](repeating: 7, count: size)
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send(Array("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n".utf8) + body)
            let response = try await client.readResponse()
            #expect(response.text == "\(size) \(7 * size)")
        }
    }
}
