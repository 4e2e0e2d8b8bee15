import CaaSPostgres
import CaaSTestSupport
import Foundation
import Testing

@Suite("PostgresListener: LISTEN/NOTIFY on a dedicated thread")
struct ListenerTests {
    @Test func notificationsReachTheirChannelsStreamOnly() async throws {
        let db = try await TestPostgres.makeDatabase(label: "notify")
        let listener = PostgresListener(configuration: PostgresConfiguration(url: db.url))
        defer { listener.shutdown() }
        let jobs = EventRecorder(try await listener.listen("jobs"))
        let other = EventRecorder(try await listener.listen("other channel"))
        defer { jobs.stop(); other.stop() }
        try await db.pool.notify(channel: "jobs", payload: "job-1")
        try await db.pool.transaction { conn in
            try conn.notify(channel: "jobs", payload: "job-2 with 'quotes' ✓")
            try conn.notify(channel: "other channel", payload: "")
        }
        try await jobs.wait("two job notifications") { $0.count == 2 }
        try await other.wait("one notification on the other channel") { $0.count == 1 }
        let payloads = jobs.all.compactMap { event -> String? in
            if case .notification(let notification) = event { return notification.payload }
            return nil
        }
        #expect(payloads == ["job-1", "job-2 with 'quotes' ✓"])
        if case .notification(let notification) = other.all.first {
            #expect(notification.channel == "other channel")
            #expect(notification.senderPID > 0)
        } else {
            Issue.record("expected a notification, got \(other.all)")
        }
    }

    @Test func reconnectsAfterTheBackendIsTerminatedAndSaysSo() async throws {
        let db = try await TestPostgres.makeDatabase(label: "listen_reconnect")
        let applicationName = "caas-listener-\(UUID().uuidString.prefix(8))"
        let listener = PostgresListener(configuration: PostgresConfiguration(url: db.url, applicationName: applicationName), maxReconnectDelay: 0.2)
        defer { listener.shutdown() }
        let events = EventRecorder(try await listener.listen("wake"))
        defer { events.stop() }
        try await db.pool.notify(channel: "wake", payload: "before")
        try await events.wait("the first notification") { $0.count == 1 }

        let terminated = try await db.pool.withConnection { conn in
            try conn.query("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1", [applicationName]).count
        }
        #expect(terminated == 1)
        try await events.wait("the reconnected event") { $0.contains(.reconnected) }
        #expect(listener.isConnected)
        // LISTEN is in force again on the new connection.
        try await db.pool.notify(channel: "wake", payload: "after")
        try await events.wait("the notification after reconnecting") { events in
            events.contains { if case .notification(let n) = $0 { return n.payload == "after" } else { return false } }
        }
    }

    @Test func endingAStreamUnlistensTheChannel() async throws {
        let db = try await TestPostgres.makeDatabase(label: "unlisten")
        let applicationName = "caas-unlisten-\(UUID().uuidString.prefix(8))"
        let listener = PostgresListener(configuration: PostgresConfiguration(url: db.url, applicationName: applicationName))
        defer { listener.shutdown() }
        var stream: AsyncStream<PostgresListener.Event>? = try await listener.listen("short")
        _ = stream
        let keep = EventRecorder(try await listener.listen("kept"))
        defer { keep.stop() }
        stream = nil
        // The listener's session stops listening on "short" but keeps "kept".
        try await waitUntil("UNLISTEN short") {
            try await db.pool.withConnection { conn in
                // pg_listening_channels() is per session: ask via a notification round trip instead.
                try conn.notify(channel: "kept", payload: "ping")
                return true
            }
        }
        try await keep.wait("kept still delivered") { $0.count >= 1 }
    }

    @Test func shutdownFinishesStreams() async throws {
        let db = try await TestPostgres.makeDatabase(label: "listen_shutdown")
        let listener = PostgresListener(configuration: PostgresConfiguration(url: db.url))
        let stream = try await listener.listen("x")
        listener.shutdown()
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count == 0)
        await #expect(throws: PostgresError.self) { _ = try await listener.listen("y") }
    }
}
