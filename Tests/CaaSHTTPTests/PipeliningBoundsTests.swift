#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import Testing
@testable import CaaSHTTP

/// Issue 12 item 2: pipelined requests are read only while a bounded amount of answers waits to
/// be written, so a client that sends without reading holds a bounded share of the server.
/// A count shared between threads.
final class SharedCount: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ n: Int) { value.wrappingAdd(n, ordering: .relaxed) }
    func set(_ n: Int) { value.store(n, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

@Suite("HTTP server pipelining bounds", .serialized)
struct PipeliningBoundsTests {
    static let request = Array("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".utf8)

    /// Sends `count` pipelined requests from its own thread (blocking when the server stops
    /// reading) and returns how many it got out.
    static func pipeline(_ fd: Int32, count: Int, sent: SharedCount) {
        let perChunk = 2048
        let chunk = [UInt8]((0..<perChunk).flatMap { _ in request })
        var left = count
        while left > 0 {
            let n = min(perChunk, left)
            var offset = 0
            let bytes = n * request.count
            while offset < bytes {
                let written = chunk.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes - offset, Int32(MSG_NOSIGNAL)) }
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return
                }
                offset += written
            }
            left -= n
            sent.add(n)
        }
    }

    /// Reads and counts answers (each ends in `{"ok":true}`) until `count` arrived or the peer
    /// closed; `pause` between reads makes a slow reader.
    static func countAnswers(_ fd: Int32, until count: Int, pause: UInt32, read: SharedCount) {
        let marker = Array(#"{"ok":true}"#.utf8)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var matched = 0, answers = 0
        while answers < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            for byte in buffer[0..<n] {
                if byte == marker[matched] {
                    matched += 1
                    if matched == marker.count { matched = 0; answers += 1 }
                } else {
                    matched = byte == marker[0] ? 1 : 0
                }
            }
            read.set(answers)
            if pause > 0 { usleep(pause) }
        }
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }

    @Test("a million pipelined requests from a client that reads slowly: answers queued stay bounded, memory flat, others served",
          .timeLimit(.minutes(3)))
    func aMillionPipelinedRequestsReadSlowly() async throws {
        let total = 1_000_000
        let handled = SharedCount()
        let responder = HTTPResponderClosure { request, _ in
            handled.add(1)
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: .init(string: #"{"ok":true}"#))
        }
        var limits = HTTPServerLimits()
        limits.writeTimeout = .seconds(60)
        try await withLiveServer(limits: limits, responder: responder) { server in
            let client = try RawConnection.tcp(port: server.port!, timeout: 60)
            let sent = SharedCount(), read = SharedCount()
            let fd = client.fd
            let sender = Thread { Self.pipeline(fd, count: total, sent: sent) }
            sender.start()
            let rssStart = Self.residentBytes()

            // Not reading at all: the server stops answering once its queue and the kernel's
            // buffers are full, and stops reading once its pipeline buffer is.
            // (On a loaded machine filling the buffers takes a while: wait until the count holds
            // still for half a second, at most 30 s; a server that never stops answers a million.)
            var stalled = handled.current
            let giveUp = ContinuousClock.now + .seconds(30)
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                let now = handled.current
                if now == stalled { break }
                stalled = now
            } while ContinuousClock.now < giveUp
            try await Task.sleep(for: .milliseconds(500))
            #expect(handled.current == stalled, "answers stop while nobody reads")
            #expect(stalled < 100_000, "at most a bounded backlog is answered ahead of the reader: \(stalled)")
            #expect(sent.current < total, "the sender is held back")
            print("pipelining: \(stalled) answered ahead of a reader that reads nothing; \(sent.current) sent")
            // Others are served meanwhile.
            let other = try RawConnection.tcp(port: server.port!)
            try await other.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await other.readResponse().status == 200)

            // Reading slowly to the end: every request answered once, memory stays flat.
            var peak = Self.residentBytes()
            let reader = Thread { Self.countAnswers(fd, until: total, pause: 50, read: read) }
            reader.start()
            while read.current < total {
                try await Task.sleep(for: .milliseconds(200))
                peak = max(peak, Self.residentBytes())
                if Task.isCancelled { break }
            }
            #expect(read.current == total)
            #expect(handled.current == total + 1)
            #expect(peak - rssStart < 64 * 1024 * 1024, "memory grew by \((peak - rssStart) >> 20) MiB for a million pipelined requests")
        }
    }
}
