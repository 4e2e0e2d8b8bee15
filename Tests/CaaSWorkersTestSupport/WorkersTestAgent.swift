import CaaSModel
import CaaSPlanner
import CaaSServer
import CaaSStore
import Foundation

/// An in-process cluster agent (shared by CaaSServerTests and caasctlTests): records every push, "runs" containers instantly, and reports
/// through the same `AgentEndpoints` handler the real agent calls. It ignores pushes older than
/// the generation it applied (the fence). Nodes can be taken down (no heartbeats, no reports, the
/// containers there keep "running") and brought back.
public actor WorkersTestAgent: ClusterAgentChannel {
    public struct Running: Equatable, Sendable {
        public var node: String
        public var state: ObservedContainerState
        public var generation: Int64
        public var image: String
    }

    public let clusterID: String
    public let secret: String
    public var endpoints: AgentEndpoints?
    public private(set) var pushes: [DesiredClusterState] = []
    public private(set) var appliedGeneration: Int64 = 0
    public private(set) var containers: [String: Running] = [:]
    /// Images whose containers exit with code 1 right after starting.
    public var failingImages: Set<String> = []
    /// Images whose containers stay `starting` (never ready).
    public var neverReadyImages: Set<String> = []
    public var downNodes: Set<String> = []
    public var nodes: [String]
    private var sequence: Int64 = 0
    /// Observations whose report failed; sent again with the next report or heartbeat.
    private var undelivered: [ContainerObservation] = []
    /// Removal confirmations for these containers are held back (an agent that is slow to remove).
    public var reportsEnabled = true

    public init(clusterID: String, secret: String, nodes: [String]) {
        self.clusterID = clusterID
        self.secret = secret
        self.nodes = nodes
    }

    public func attach(_ endpoints: AgentEndpoints) { self.endpoints = endpoints }
    public func setFailing(_ images: Set<String>) { failingImages = images }
    public func setNeverReady(_ images: Set<String>) { neverReadyImages = images }
    public func setNodes(_ nodes: [String]) { self.nodes = nodes }

    public var credentials: AgentCredentials { AgentCredentials(bearer: secret) }

    public nonisolated func push(_ state: DesiredClusterState) async throws -> PushAcknowledgement {
        try await apply(state)
    }

    private func apply(_ state: DesiredClusterState) async throws -> PushAcknowledgement {
        pushes.append(state)
        guard state.generation >= appliedGeneration else {
            return PushAcknowledgement(applied: false, appliedGeneration: appliedGeneration)
        }
        appliedGeneration = state.generation
        var observations: [ContainerObservation] = []
        let now = Date()
        var wanted: [String: DesiredContainer] = [:]
        for node in state.nodes where !downNodes.contains(node.nodeId) {
            for c in node.containers { wanted[c.containerId] = c }
        }
        // Containers on reachable nodes that are no longer wanted are removed.
        for (id, running) in containers.sorted(by: { $0.key < $1.key }) where !downNodes.contains(running.node) && wanted[id] == nil {
            containers[id] = nil
            observations.append(ContainerObservation(containerId: id, nodeId: running.node, state: .removed, observedAt: now))
        }
        for (id, c) in wanted.sorted(by: { $0.key < $1.key }) {
            let node = state.nodes.first { $0.containers.contains { $0.containerId == id } }!.nodeId
            let existing = containers[id]
            let target: ObservedContainerState
            var exit: Int?
            if c.state == .running {
                if failingImages.contains(c.image) {
                    target = .exited
                    exit = 1
                } else if neverReadyImages.contains(c.image) {
                    target = .starting
                } else {
                    target = existing?.state.isTerminal == true ? existing!.state : .running
                }
            } else {
                target = .exited
                exit = 0
            }
            if existing?.state == target { continue }
            containers[id] = Running(node: node, state: target, generation: c.generation, image: c.image)
            let healthy = (c.probe != nil || c.healthcheck != nil) && target == .running
            observations.append(ContainerObservation(
                containerId: id, nodeId: node, state: target, exitCode: exit, health: healthy ? .healthy : .unknown,
                startedAt: now, finishedAt: target == .exited ? now : nil, engineContainerId: String(repeating: "e", count: 64),
                observedAt: now))
        }
        try await report(observations)
        return PushAcknowledgement(applied: true, appliedGeneration: appliedGeneration)
    }

    /// Sends observations, with any an earlier report failed to deliver (kept and sent again, as
    /// the real agent's `ReportBatcher` does). Delivery runs in a task of its own: like a real
    /// agent's, it does not die with the control plane's push that caused it.
    public func report(_ observations: [ContainerObservation], full: Bool = false) async throws {
        guard reportsEnabled, let endpoints else { return }
        let batch = undelivered + observations
        guard !batch.isEmpty || full else { return }
        undelivered = batch
        sequence += 1
        let report = AgentReport(clusterId: clusterID, sequence: sequence, appliedGeneration: appliedGeneration, sentAt: Date(),
                                 containers: batch, nodes: [], isFull: full)
        let body = Array(try AgentWire.encoder().encode(report)), credentials = credentials
        _ = try await Task { try await endpoints.receiveReport(body: body, credentials: credentials) }.value
        undelivered.removeAll { batch.contains($0) }
    }

    /// One heartbeat for every node that is up.
    public func heartbeat() async throws {
        guard let endpoints else { return }
        let now = Date()
        let up = nodes.filter { !downNodes.contains($0) }
        let beat = Heartbeat(clusterId: clusterID, agentVersion: "test", appliedGeneration: appliedGeneration, sentAt: now,
                             nodes: up.map { NodeObservation(nodeId: $0, engineReachable: true, engineVersion: "test", observedAt: now) })
        try await endpoints.receiveHeartbeat(body: Array(try AgentWire.encoder().encode(beat)), credentials: credentials)
        if !undelivered.isEmpty { try await report([]) }
    }

    public func takeDown(_ node: String) { downNodes.insert(node) }

    /// The node is reachable again: its containers (still running there) are reported as they are.
    public func bringBack(_ node: String) async throws {
        downNodes.remove(node)
        let now = Date()
        let there = containers.filter { $0.value.node == node }.sorted { $0.key < $1.key }
        try await report(there.map { ContainerObservation(containerId: $0.key, nodeId: node, state: $0.value.state, observedAt: now) })
    }

    /// Containers the agent runs right now (not terminal), by id.
    public func runningIDs(on node: String? = nil) -> Set<String> {
        Set(containers.filter { $0.value.state == .running && (node == nil || $0.value.node == node) }.keys)
    }

    public func setCPU(_ percent: Double) async throws {
        let now = Date()
        try await report(containers.filter { $0.value.state == .running }.sorted { $0.key < $1.key }.map {
            ContainerObservation(containerId: $0.key, nodeId: $0.value.node, state: .running, cpuPercent: percent, observedAt: now)
        })
    }
}

extension WorkerSettings {
    /// Worker settings for tests: short leases, wake-ups, node timeouts and backoffs, so
    /// rollouts finish in seconds.
    public static func forTests(_ replica: String) -> WorkerSettings {
        var settings = WorkerSettings(replicaID: replica)
        settings.jobLease = 2
        settings.safetyWake = 1
        settings.nodeDownAfter = 1.5
        settings.nodeMonitorInterval = 0.2
        settings.tickerInterval = 0.5
        settings.autoscaleInterval = 0.3
        settings.autoscaleCooldown = 0
        settings.leaderRetryInterval = 0.3
        settings.leaderCheckInterval = 0.3
        settings.planner = PlannerOptions(restartBackoffBase: 0.2, restartBackoffCap: 1, rolloutTimeout: 30)
        return settings
    }
}
