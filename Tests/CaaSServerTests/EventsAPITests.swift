import CaaSPostgres
@testable import CaaSServer
import Foundation
import Testing

/// A stream writer that keeps what it is given and stops the stream after `limit` events.
final class CollectingWriter: ResponseStreamWriter, @unchecked Sendable {
    struct Enough: Error {}
    private let lock = NSLock()
    private var text = ""
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func write(_ bytes: [UInt8]) async throws {
        let count = lock.withLock {
            text += String(decoding: bytes, as: UTF8.self)
            return text.components(separatedBy: "\nid: ").count - 1 + (text.hasPrefix("id: ") ? 1 : 0)
        }
        if count >= limit { throw Enough() }
    }

    var received: String { lock.withLock { text } }
}

@Suite struct EventsAPITests {
    @Test func eventsPageInOrderAfterAnID() async throws {
        let api = try await APIHarness.make("events_page")
        let a = try await api.makeTenant("alpha")
        let all = try await api.call("GET", "/v1/events?after=0", token: a.tokens["viewer"])
        #expect(all.status == 200)
        guard case .array(let items) = all["items"]! else { Issue.record("no items"); return }
        #expect(items.compactMap { $0["id"]?.integerValue } == [1, 2, 3, 4])
        #expect(items[0]["type"]?.stringValue == "tenant.created")
        #expect(items[1]["object_kind"]?.stringValue == "token")
        let later = try await api.call("GET", "/v1/events?after=2&limit=1", token: a.tokens["viewer"])
        if case .array(let page) = later["items"]! { #expect(page.compactMap { $0["id"]?.integerValue } == [3]) }
        #expect(later["last_event_id"]?.integerValue == 3)
        let b = try await api.makeTenant("beta")
        let other = try await api.call("GET", "/v1/events?after=0&type=token", token: b.tokens["viewer"])
        if case .array(let page) = other["items"]! {
            #expect(page.count == 3 && page.allSatisfy { $0["type"]?.stringValue == "token.created" })
        }
        #expect(try await api.call("GET", "/v1/events?after=-1", token: a.tokens["viewer"]).status == 400)
        #expect(try await api.call("GET", "/v1/events?wait=99s", token: a.tokens["viewer"]).status == 400)
    }

    @Test func aLongPollWakesWhenAnEventArrives() async throws {
        let api = try await APIHarness.make("events_longpoll")
        let a = try await api.makeTenant("alpha")
        let started = Date()
        async let polled = api.call("GET", "/v1/events?after=4&wait=20s", token: a.tokens["viewer"])
        try await Task.sleep(nanoseconds: 300_000_000)
        let created = try await api.call("POST", "/v1/tokens", token: a.tokens["admin"], body: #"{"name":"late","role":"viewer"}"#)
        #expect(created.status == 201)
        let reply = try await polled
        let waited = Date().timeIntervalSince(started)
        #expect(reply.status == 200)
        if case .array(let items) = reply["items"]! {
            #expect(items.compactMap { $0["id"]?.integerValue } == [5])
            #expect(items.first?["summary"]?.stringValue?.contains("late") == true)
        }
        #expect(waited >= 0.3 && waited < 10, "waited \(waited)s")
        // With nothing new, the poll answers empty once the wait is over.
        let idle = try await api.call("GET", "/v1/events?after=5&wait=0.3s", token: a.tokens["viewer"])
        if case .array(let items) = idle["items"]! { #expect(items.isEmpty) }
    }

    @Test func serverSentEventsResumeFromLastEventID() async throws {
        let api = try await APIHarness.make("events_sse")
        let a = try await api.makeTenant("alpha")
        let request = APIRequest(method: "GET", path: "/v1/events", headers: [
            "Authorization": "Bearer \(a.tokens["viewer"]!)", "Accept": "text/event-stream", "Last-Event-ID": "2",
        ])
        let response = await api.plane.handle(request)
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/event-stream")
        guard case .stream(let produce) = response.body else { Issue.record("not a stream"); return }
        let writer = CollectingWriter(limit: 3)
        let streaming = Task { try? await produce(writer) }
        try await Task.sleep(nanoseconds: 300_000_000)
        _ = try await api.call("POST", "/v1/tokens", token: a.tokens["admin"], body: #"{"name":"streamed","role":"viewer"}"#)
        let deadline = Date().addingTimeInterval(10)
        while writer.received.components(separatedBy: "id: ").count < 4, Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        streaming.cancel()
        let text = writer.received
        let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
        #expect(ids == ["3", "4", "5"], "\(text)")
        #expect(text.contains("event: token.created"))
        #expect(text.hasPrefix(": "))
    }

    @Test func aLongPollWakesForAnEventAnotherReplicaWrote() async throws {
        let api = try await APIHarness.make("events_replicas")
        let a = try await api.makeTenant("alpha")
        let other = api.replica()
        let listener = PostgresListener(configuration: PostgresConfiguration(url: api.url))
        defer { listener.shutdown() }
        let listening = Task { try await api.plane.listenForEvents(listener) }
        defer { listening.cancel() }
        let deadline = Date().addingTimeInterval(10)
        while !listener.isConnected, Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
        try await Task.sleep(nanoseconds: 300_000_000)
        let started = Date()
        async let polled = api.call("GET", "/v1/events?after=4&wait=20s", token: a.tokens["viewer"])
        try await Task.sleep(nanoseconds: 300_000_000)
        let created = try await other.call("POST", "/v1/tokens", token: a.tokens["admin"], body: #"{"name":"remote","role":"viewer"}"#)
        #expect(created.status == 201)
        let reply = try await polled
        if case .array(let items) = reply["items"]! { #expect(items.compactMap { $0["id"]?.integerValue } == [5]) }
        #expect(Date().timeIntervalSince(started) < 10, "the poll was not woken by NOTIFY")
    }
}
