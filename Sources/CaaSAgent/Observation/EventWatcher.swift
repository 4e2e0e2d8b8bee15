import Foundation

/// Follows one engine's event stream for this cluster's containers and hands each event to the
/// node's executor; reconnects with backoff when the stream breaks, replaying from the last
/// event seen, and marks the node unreachable meanwhile.
struct EventWatcher: Sendable {
    let executor: NodeExecutor
    let configuration: AgentConfiguration

    func run() async {
        var since: Date?
        var backoff = configuration.reconnectBackoff.first
        let label = "\(ContainerLabels.cluster)=\(configuration.clusterId)"
        while !Task.isCancelled {
            do {
                let events = try await executor.engine.events(labels: [label], since: since)
                backoff = configuration.reconnectBackoff.first
                await executor.markReachable()
                // Whatever happened while the stream was down is caught by a convergence.
                if since != nil { await executor.converge() }
                since = since ?? Date()
                for try await event in events {
                    since = Date(timeIntervalSince1970: Double(event.timeNano) / 1e9)
                    await executor.handle(event)
                }
                if Task.isCancelled { return }
                await executor.checkEngine()
            } catch {
                if Task.isCancelled { return }
                await executor.checkEngine()
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, configuration.reconnectBackoff.longest)
        }
    }
}
