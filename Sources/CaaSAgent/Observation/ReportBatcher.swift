import CaaSModel
import Foundation

/// Collects observations and sends them in batches: the first observation of a batch opens a
/// short window (`window`), further ones join it, and the newest observation of a container or
/// node replaces older ones. A failed delivery keeps the batch (newer observations still win)
/// and tries again with backoff, so nothing is lost while the control plane is away.
public actor ReportBatcher {
    public let clusterId: String
    public let window: Duration
    private let reporter: any AgentReporter
    private var containers: [String: ContainerObservation] = [:]
    private var nodes: [String: NodeObservation] = [:]
    private var full = false
    private var sequence: Int64 = 0
    private var appliedGeneration: Int64 = 0
    private var flushTask: Task<Void, Never>?
    /// Told of every delivered report.
    private let contact: ControlPlaneContact?

    public init(clusterId: String, reporter: any AgentReporter, window: Duration = .milliseconds(50), contact: ControlPlaneContact? = nil) {
        self.clusterId = clusterId
        self.reporter = reporter
        self.window = window
        self.contact = contact
    }

    public func setAppliedGeneration(_ generation: Int64) {
        appliedGeneration = max(appliedGeneration, generation)
    }

    public func add(_ observation: ContainerObservation) {
        if let previous = containers[observation.containerId], previous.observedAt > observation.observedAt { return }
        containers[observation.containerId] = observation
        schedule()
    }

    public func add(_ observation: NodeObservation) {
        nodes[observation.nodeId] = observation
        schedule()
    }

    /// A full reconciliation's observations: every container the agent manages.
    public func addFull(containers observations: [ContainerObservation], nodes nodeObservations: [NodeObservation]) {
        for observation in observations { add(observation) }
        for observation in nodeObservations { add(observation) }
        full = true
        schedule()
    }

    private func schedule() {
        guard flushTask == nil else { return }
        flushTask = Task { [window] in
            try? await Task.sleep(for: window)
            await self.flush()
        }
    }

    private func flush() async {
        var backoff = Duration.milliseconds(100)
        while !containers.isEmpty || !nodes.isEmpty {
            sequence += 1
            let report = AgentReport(
                clusterId: clusterId, sequence: sequence, appliedGeneration: appliedGeneration, sentAt: Date(),
                containers: containers.values.sorted { $0.containerId < $1.containerId },
                nodes: nodes.values.sorted { $0.nodeId < $1.nodeId }, isFull: full)
            let sentContainers = containers, sentNodes = nodes
            containers = [:]
            nodes = [:]
            full = false
            do {
                try await reporter.deliver(report)
                contact?.heard()
                backoff = .milliseconds(100)
            } catch {
                // Keep what was not delivered unless something newer arrived meanwhile.
                for (id, observation) in sentContainers where containers[id] == nil { containers[id] = observation }
                for (id, observation) in sentNodes where nodes[id] == nil { nodes[id] = observation }
                full = full || report.isFull
                if Task.isCancelled { break }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        flushTask = nil
    }

    /// Stops sending (pending observations are dropped).
    public func shutdown() {
        flushTask?.cancel()
        flushTask = nil
    }
}
