#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import CaaSHTTP

/// A value from /proc/self/status (`Threads`, `VmRSS` in kB).
func procStatus(_ key: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        return Int(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? -1
    }
    return -1
}

@Suite("HTTP server at scale")
struct ServerScaleTests {
    @Test("thousands of idle keep-alive connections: bounded threads, small memory per connection")
    func manyIdleConnections() async throws {
        let count = 3000
        let limit = HTTPServer.raiseFileDescriptorLimit(to: 2 * count + 256)
        try #require(limit >= 2 * count + 256, "RLIMIT_NOFILE too low")

        var limits = HTTPServerLimits()
        limits.maxConnectionsPerAddress = count + 1  // every client is on 127.0.0.1
        try await withLiveServer(limits: limits, responder: liveResponder) { server in
            let port = server.port!
            // Warm up so that per-loop buffers and the runtime are not counted per connection.
            let warm = try RawConnection.tcp(port: port)
            try await warm.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await warm.readResponse()
            let rssBefore = procStatus("VmRSS")
            let threadsBefore = procStatus("Threads")

            var clients: [RawConnection] = []
            clients.reserveCapacity(count)
            for _ in 0..<count { clients.append(try RawConnection.tcp(port: port)) }
            // One request on each, so that every connection has been through a full exchange.
            try await withThrowingTaskGroup(of: Void.self) { group in
                let shards = 4
                for shard in 0..<shards {
                    let mine = stride(from: shard, to: count, by: shards).map { clients[$0] }
                    group.addTask {
                        for client in mine {
                            try await client.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                            let response = try await client.readResponse()
                            if response.status != 200 { throw RawConnection.Failure(description: "status \(response.status)") }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await eventually { server.connectionCount == count + 1 })
            let threads = procStatus("Threads")
            let rssAfter = procStatus("VmRSS")
            let perConnection = Double(rssAfter - rssBefore) * 1024 / Double(count)
            print("idle connections: \(count), threads: \(threads), RSS +\(rssAfter - rssBefore) kB, \(Int(perConnection)) B/connection (client side included)")
            // Other suites run in this process at the same time and add threads and memory of their
            // own, so the bounds leave room for them; a thread or a large buffer per connection would
            // still break them by far. scripts/bench-idle.sh measures 10,000 connections in isolation.
            #expect(threads - threadsBefore < 64, "no thread per connection")
            #expect(rssAfter > 0 && perConnection < 50_000)

            // The last connection is still served.
            try await clients[count - 1].send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await clients[count - 1].readResponse().text == "fast")
            clients.removeAll()
            #expect(try await eventually { server.connectionCount == 1 })
        }
    }
}

