import CaaSModel
import Foundation

/// The node side of a cluster: applies pushed desired states to every node's engine and reports
/// what the engines do. One per cluster.
///
/// The control plane's push endpoint calls `apply(_:)`; `run()` is the long-running service
/// (event watchers, periodic reconciliation, sampling, heartbeats) and stops on cancellation.
///
/// With a `PortAssignment`, every state is completed by it before the nodes converge (each
/// container's port, environment and probe port), and before the first the assignment adopts
/// the ports the engines' containers already hold: a restarted agent keeps every running
/// container's port.
public actor ClusterAgent {
    public nonisolated let configuration: AgentConfiguration
    public nonisolated let batcher: ReportBatcher
    /// Completes the states applied; `nil`: they arrive complete.
    public nonisolated let ports: PortAssignment?
    private let heartbeats: (any HeartbeatSink)?
    /// When the control plane was last heard (pushes, report and heartbeat answers).
    public nonisolated let contact: ControlPlaneContact
    private var executors: [String: NodeExecutor] = [:]
    private var nodeOrder: [String] = []
    private(set) public var appliedGeneration: Int64 = 0
    private var applied: DesiredClusterState?
    /// Reads the ports the engines' containers hold into `ports`, once, before the first state.
    private var adoption: Task<Void, Never>?
    /// The name server of each node with a caas network.
    private var nameServers: [String: NameServerKeeper] = [:]
    private var nameServerImage: NameServerImage?
    private var publishingNames = false
    /// Why names could not be published, by node (cleared once they are).
    public private(set) var nameServerProblems: [String: String] = [:]

    public init(configuration: AgentConfiguration, nodes: [AgentNode], makeTransport: @escaping EngineTransportFactory,
                reporter: any AgentReporter, heartbeats: (any HeartbeatSink)? = nil, ports: PortAssignment? = nil) {
        self.configuration = configuration
        let contact = ControlPlaneContact(outOfReachAfter: configuration.outOfReachAfter)
        self.contact = contact
        self.batcher = ReportBatcher(clusterId: configuration.clusterId, reporter: reporter, window: configuration.reportWindow,
                                     contact: contact)
        self.heartbeats = heartbeats
        self.ports = ports
        for node in nodes where executors[node.nodeId] == nil {
            let engine = EngineClient(transport: makeTransport(node.endpoint))
            let runner = ProbeRunner(engine: engine, makeTransport: makeTransport, host: configuration.probeHost)
            executors[node.nodeId] = NodeExecutor(nodeId: node.nodeId, engine: engine, configuration: configuration, batcher: batcher,
                                                  probeRunner: runner, ports: ports, contact: contact)
            nodeOrder.append(node.nodeId)
        }
    }

    /// The answer to a push.
    public enum ApplyOutcome: Sendable, Equatable {
        /// Converged (as far as the engines allowed; failures are in the reports).
        case applied(generation: Int64, actions: [String: [PlannedAction]], unknownNodes: [String])
        /// Not applied, with the reason (another cluster's state, or an older generation).
        case ignored(reason: String)
    }

    /// Applies a pushed desired state: ignored when it is older than the one applied; otherwise
    /// completed by `ports` (when the agent has one), and every node converges (concurrently) and
    /// the outcome lists what each did. Nodes the state does not mention have no containers.
    @discardableResult
    public func apply(_ state: DesiredClusterState) async -> ApplyOutcome {
        await adoptHeldPorts()
        guard state.clusterId == configuration.clusterId else {
            return .ignored(reason: "state is for cluster \(state.clusterId), this agent serves \(configuration.clusterId)")
        }
        guard state.generation >= appliedGeneration else {
            return .ignored(reason: "generation \(state.generation) is older than the applied generation \(appliedGeneration)")
        }
        appliedGeneration = state.generation
        contact.heard()
        let state = ports?.decorate(state) ?? state
        applied = state
        await batcher.setAppliedGeneration(state.generation)
        let unknown = state.nodes.map(\.nodeId).filter { executors[$0] == nil }
        let work = nodeOrder.compactMap { id in executors[id].map { ($0, state.node(id)?.containers ?? [], state.node(id)?.network) } }
        let results = await withTaskGroup(of: (String, [PlannedAction]).self) { group in
            for (executor, containers, network) in work {
                group.addTask { (executor.nodeId, await executor.setDesired(containers, volumeRemovals: state.volumeRemovals, network: network)) }
            }
            var results: [String: [PlannedAction]] = [:]
            for await (node, actions) in group { results[node] = actions }
            return results
        }
        // New containers' names, at once rather than at the next round.
        Task { await self.publishNames() }
        return .applied(generation: state.generation, actions: results, unknownNodes: unknown)
    }

    /// Brings every node's name server up to date with the applied state and what serves now:
    /// made where a node has a caas network and none yet, its records written when they changed.
    /// A round already under way is not doubled (the next one follows within `namesInterval`).
    public func publishNames() async {
        guard let state = applied, !publishingNames else { return }
        let networked = state.nodes.filter { $0.network?.nameServer != nil }.compactMap { node in executors[node.nodeId] }
        guard !networked.isEmpty else { return }
        publishingNames = true
        defer { publishingNames = false }
        if nameServerImage == nil {
            let path = configuration.nameServerBinary ?? NameServerImage.besideExecutable()
            guard let image = NameServerImage(binary: path) else {
                for executor in networked { nameServerProblems[executor.nodeId] = "the name server binary \(path) cannot be read" }
                return
            }
            nameServerImage = image
        }
        var serving = Set<String>()
        for id in nodeOrder { if let executor = executors[id] { serving.formUnion(await executor.serving()) } }
        let records = ClusterNames.table(state, serving: serving).rendered()
        let keepers = networked.map { executor in
            (executor, nameServers[executor.nodeId] ?? NameServerKeeper(nodeId: executor.nodeId, clusterId: configuration.clusterId, engine: executor.engine,
                                                                        image: nameServerImage!, upstreams: configuration.nameServerUpstreams))
        }
        for (executor, keeper) in keepers { nameServers[executor.nodeId] = keeper }
        let problems = await withTaskGroup(of: (String, String?).self) { group in
            for (executor, keeper) in keepers {
                group.addTask {
                    do throws(EngineError) {
                        guard let network = try await executor.preparedNetwork() else { return (executor.nodeId, nil) }
                        try await keeper.publish(records, network: network)
                        return (executor.nodeId, nil)
                    } catch {
                        return (executor.nodeId, "name server: \(error)")
                    }
                }
            }
            var problems: [String: String?] = [:]
            for await (node, problem) in group { problems[node] = problem }
            return problems
        }
        for (node, problem) in problems { nameServerProblems[node] = problem }
    }

    /// Before the first state is completed: the ports the containers on the engines hold (their
    /// `CAAS_PORT`), adopted by `ports`. An engine unreachable now is left to its executor, which
    /// adopts the port of each container it observes.
    private func adoptHeldPorts() async {
        guard let ports else { return }
        if adoption == nil {
            let all = nodeOrder.compactMap { executors[$0] }
            adoption = Task {
                let held = await withTaskGroup(of: [String: Int].self) { group in
                    for executor in all { group.addTask { await executor.heldPorts() ?? [:] } }
                    var held: [String: Int] = [:]
                    for await node in group { held.merge(node) { first, _ in first } }
                    return held
                }
                ports.adopt(held)
            }
        }
        await adoption?.value
    }

    /// The desired state last applied (as completed by `ports`).
    public var appliedState: DesiredClusterState? { applied }

    /// A full reconciliation now: every node converges again and reports everything it has.
    public func reconcile() async {
        let all = nodeOrder.compactMap { executors[$0] }
        await withTaskGroup(of: Void.self) { group in
            for executor in all {
                group.addTask {
                    let reachable = await executor.checkEngine().engineReachable
                    if reachable { await executor.converge() }
                    let report = await executor.fullReport()
                    await self.batcher.addFull(containers: report.containers, nodes: [report.node])
                }
            }
        }
    }

    /// What the agent knows of every node's engine.
    public func nodeObservations() async -> [NodeObservation] {
        var result: [NodeObservation] = []
        for id in nodeOrder { if let executor = executors[id] { result.append(await executor.observation) } }
        return result
    }

    public func heartbeat() async -> Heartbeat {
        Heartbeat(clusterId: configuration.clusterId, agentVersion: configuration.agentVersion,
                  appliedGeneration: appliedGeneration, sentAt: Date(), nodes: await nodeObservations())
    }

    /// The executor of a node (its engine client, health and adopted containers).
    public func executor(for nodeId: String) -> NodeExecutor? { executors[nodeId] }

    /// Runs until cancelled: one event watcher per node, full reconciliation every
    /// `reconcileInterval`, stats every `statsInterval`, heartbeats every `heartbeatInterval`.
    /// Containers keep running when it stops.
    public func run() async {
        let all = nodeOrder.compactMap { executors[$0] }
        let configuration = configuration
        let heartbeats = heartbeats
        await withTaskGroup(of: Void.self) { group in
            for executor in all {
                group.addTask { await EventWatcher(executor: executor, configuration: configuration).run() }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.reconcile()
                    try? await Task.sleep(for: configuration.reconcileInterval)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.publishNames()
                    try? await Task.sleep(for: configuration.namesInterval)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.statsInterval)
                    await withTaskGroup(of: Void.self) { inner in
                        for executor in all { inner.addTask { await executor.sampleStats() } }
                    }
                }
            }
            if let heartbeats {
                group.addTask {
                    await withDiscardingTaskGroup { beats in
                        while !Task.isCancelled {
                            if (try? await heartbeats.beat(await self.heartbeat())) != nil { self.contact.heard() }
                            // Back in reach (by any channel): a full report now, beside the heartbeats,
                            // so the control plane sees at once what kept running.
                            if self.contact.takeRegained() { beats.addTask { await self.reconcile() } }
                            try? await Task.sleep(for: configuration.heartbeatInterval)
                        }
                    }
                }
            }
        }
        for executor in all { await executor.shutdown() }
    }
}
