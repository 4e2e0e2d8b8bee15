import CaaSPostgres
import CaaSStore
import Foundation

extension ControlPlane {
    /// The control plane's background work, until cancelled: retention (every
    /// `pruneIntervalSeconds`, one replica at a time). Run it as a service next to the HTTP server.
    ///
    /// Long-polls and streams are woken in-process after each commit that appends events (see
    /// `Store.eventNotifier`); events written by other replicas arrive through LISTEN on
    /// `eventsChannel` — feed each notification's payload to `notifier.publish(payload:)` and call
    /// `notifier.wakeAll()` after the listener reconnects.
    public func run(pruneIntervalSeconds: Double = 600) async {
        while !Task.isCancelled {
            do {
                if let counts = try await prune() {
                    logger.info("retention", metadata: ["events": "\(counts.events)", "idempotency_keys": "\(counts.idempotencyKeys)",
                                                        "audit_entries": "\(counts.auditEntries)"])
                }
            } catch {
                logger.warning("retention failed; will try again", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(nanoseconds: UInt64(pruneIntervalSeconds * 1_000_000_000))
        }
    }
}

extension ControlPlane {
    /// Feeds the event notifier from LISTEN on `eventsChannel`, until cancelled: events other
    /// replicas commit wake this replica's long-polls and streams. After a reconnect every
    /// waiter is woken to re-read (notifications may have been missed meanwhile).
    public func listenForEvents(_ listener: PostgresListener) async throws {
        let events = try await listener.listen(eventsChannel)
        for await event in events {
            switch event {
            case .notification(let notification): notifier.publish(payload: notification.payload)
            case .reconnected: notifier.wakeAll()
            }
        }
    }
}
