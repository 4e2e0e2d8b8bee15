import Foundation
import Synchronization
import Testing
@testable import CaaSHTTP

/// Issue 12 item 4: a streamed response (a followed log) that goes quiet holds no thread of the
/// client's while it waits, however many are open; and its data still arrives when it comes.
@Suite("HTTP client streams", .serialized)
struct ClientStreamingTests {
    @Test("two hundred quiet streamed responses hold no thread each; a late chunk still arrives; cancelling ends one")
    func quietStreamsHoldNoThreads() async throws {
        let release = Gate()
        let responder = HTTPResponderClosure { request, _ in
            .stream { writer in
                try await writer.write(Array("first\n".utf8))
                await release.wait()
                try await writer.write(Array("late\n".utf8))
            }
        }
        try await withLiveServer(eventLoops: 1, responder: responder) { server in
            let client = try HTTPClient()
            let url = "http://127.0.0.1:\(server.port!)/logs?follow=true"
            let count = 200
            var streams: [HTTPClientStreamingResponse] = []
            // Warm up the client's threads and the runtime first.
            streams.append(try await client.stream(HTTPClientRequest(url: url)))
            let threadsBefore = procStatus("Threads")
            for _ in 1..<count { streams.append(try await client.stream(HTTPClientRequest(url: url))) }

            // Every stream reads its first chunk, then waits for more.
            let firsts = SharedCount()
            let lates = SharedCount()
            let readers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for stream in streams {
                        group.addTask {
                            var iterator = stream.body.makeAsyncIterator()
                            var text = ""
                            while let chunk = try await iterator.next() {
                                text += String(decoding: chunk, as: UTF8.self)
                                if text == "first\n" { firsts.add(1) }
                                if text.hasSuffix("late\n") { lates.add(1) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let deadline = Date().addingTimeInterval(20)
            while firsts.current < count, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(firsts.current == count)
            try await Task.sleep(for: .milliseconds(300))
            let threadsWaiting = procStatus("Threads")
            print("quiet streams: \(count), threads before \(threadsBefore), while waiting \(threadsWaiting)")
            #expect(threadsWaiting - threadsBefore < 40, "no thread per waiting stream (\(threadsBefore) → \(threadsWaiting))")

            // Data that comes later still arrives, on every stream.
            release.open()
            while lates.current < count, Date() < deadline.addingTimeInterval(10) { try await Task.sleep(for: .milliseconds(50)) }
            #expect(lates.current == count)
            try await readers.value
        }
    }

    @Test("cancelling the task that reads a quiet stream ends it at once and closes its connection")
    func cancellingAQuietStreamEndsIt() async throws {
        let responder = HTTPResponderClosure { _, _ in
            .stream { writer in
                try await writer.write(Array("first\n".utf8))
                try await Task.sleep(for: .seconds(3600))
            }
        }
        try await withLiveServer(eventLoops: 1, responder: responder) { server in
            let client = try HTTPClient()
            let stream = try await client.stream(HTTPClientRequest(url: "http://127.0.0.1:\(server.port!)/logs"))
            let reader = Task {
                var chunks = 0
                do { for try await _ in stream.body { chunks += 1 } } catch {}
                return chunks
            }
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            reader.cancel()
            #expect(await reader.value == 1)
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try await eventually { server.connectionCount == 0 })
        }
    }
}
