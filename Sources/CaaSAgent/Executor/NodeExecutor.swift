import CaaSModel
import Foundation

/// Drives one node's engine: converges it to its desired containers, watches its events,
/// probes and samples its containers, and tells the batcher what it sees.
///
/// Convergences are serialised per node; within one, engine operations run concurrently up to
/// `maxOperationsPerNode`, removals and stops before creations.
public actor NodeExecutor {
    public nonisolated let nodeId: String
    public nonisolated let engine: EngineClient
    private let clusterId: String
    private let configuration: AgentConfiguration
    private let batcher: ReportBatcher
    private let probeRunner: ProbeRunner
    /// The cluster's port assignment, told the port of every container observed (`nil`: the
    /// states arrive complete).
    private let ports: PortAssignment?

    /// `nil` until the first desired state arrives: an agent that has not heard from the
    /// control plane changes nothing.
    private var desired: [DesiredContainer]?
    /// Applications whose volumes this node removes (once no container uses them).
    private var volumeRemovals: [VolumeRemoval] = []
    /// `desired` by container id (where an observed container serves and what it publishes).
    private var desiredById: [String: DesiredContainer] = [:]
    /// caas container id → engine container id, for containers created or adopted.
    private var adopted: [String: String] = [:]
    private var probes: [String: Task<Void, Never>] = [:]
    private var health: [String: HealthStatus] = [:]
    private var lastObservation: [String: ContainerObservation] = [:]
    private var lastStats: [String: ContainerStats] = [:]
    private var node: NodeObservation
    private var convergeChain: Task<[PlannedAction], Never>?
    /// Whether the control plane is out of reach (`nil`: never restart locally).
    private let contact: ControlPlaneContact?
    /// Restarts made on the node while the control plane was out of reach, per container.
    private var localRestarts: [String: (count: Int, at: ContinuousClock.Instant)] = [:]
    /// The node's caas network as last desired, and the one known to exist on the engine.
    private var network: DesiredNodeNetwork?
    private var networkOnEngine: DesiredNodeNetwork?
    /// The look-or-make of the network in flight, which concurrent callers wait for.
    private var networkCheck: Task<Result<Void, EngineError>, Never>?

    init(nodeId: String, engine: EngineClient, configuration: AgentConfiguration, batcher: ReportBatcher, probeRunner: ProbeRunner,
         ports: PortAssignment? = nil, contact: ControlPlaneContact? = nil) {
        self.contact = contact
        self.nodeId = nodeId
        self.engine = engine
        self.clusterId = configuration.clusterId
        self.configuration = configuration
        self.batcher = batcher
        self.probeRunner = probeRunner
        self.ports = ports
        self.node = NodeObservation(nodeId: nodeId, engineReachable: false, error: "not checked yet", observedAt: Date())
    }

    public var observation: NodeObservation { node }
    public var adoptedContainers: [String: String] { adopted }

    private var clusterLabel: String { "\(ContainerLabels.cluster)=\(clusterId)" }

    // MARK: Convergence

    /// Sets the node's desired containers (and the applications whose volumes go) and converges;
    /// answers the actions taken.
    @discardableResult
    func setDesired(_ containers: [DesiredContainer], volumeRemovals: [VolumeRemoval] = [], network: DesiredNodeNetwork? = nil) async -> [PlannedAction] {
        desired = containers
        if let network { self.network = network }
        self.volumeRemovals = volumeRemovals
        desiredById = Dictionary(containers.map { ($0.containerId, $0) }, uniquingKeysWith: { first, _ in first })
        return await converge()
    }

    /// Converges after any convergence already running; answers the actions taken (empty
    /// when the engine could not be listed or no desired state has arrived).
    @discardableResult
    public func converge() async -> [PlannedAction] {
        let previous = convergeChain
        let task = Task { () -> [PlannedAction] in
            _ = await previous?.value
            return await self.convergeOnce()
        }
        convergeChain = task
        return await task.value
    }

    private func convergeOnce() async -> [PlannedAction] {
        guard let desired else { return [] }
        let listed: [ContainerSummary]
        do {
            listed = try await engine.listContainers(labels: [clusterLabel])
        } catch {
            markUnreachable(error)
            return []
        }
        let observed = listed.map(ObservedEngineContainer.init)
        let byId = Dictionary(desired.map { ($0.containerId, $0) }, uniquingKeysWith: { first, _ in first })
        let plan = ExecutorPlanner.plan(clusterId: clusterId, desired: desired, observed: observed, adopted: Set(adopted.keys),
                                        restartLocally: localRestartsDue(observed, byId))
        let limit = configuration.maxOperationsPerNode
        let freeing = plan.filter { $0.action.order < 2 }
        let making = plan.filter { $0.action.order >= 2 }
        await forEach(freeing, atMost: limit) { step in await self.execute(step.action, byId[step.action.containerId]) }
        await forEach(making, atMost: limit) { step in await self.execute(step.action, byId[step.action.containerId]) }
        await removeVolumes()
        return plan
    }

    /// The dead containers to start again in place now: only while the control plane is out of
    /// reach, as their restart policy allows, with a backoff between restarts (`LocalRestart`).
    /// Counted as made: the plan starts each one.
    private func localRestartsDue(_ observed: [ObservedEngineContainer], _ byId: [String: DesiredContainer]) -> Set<String> {
        guard let contact, contact.isOutOfReach() else { return [] }
        let now = ContinuousClock.now
        var due: Set<String> = []
        for container in observed where container.status == .exited || container.status == .dead {
            guard let id = container.caasContainerId(in: clusterId), let want = byId[id], want.state == .running else { continue }
            let history = localRestarts[id]
            guard LocalRestart.allows(want.restart, exitCode: container.exitCode, restartsSoFar: history?.count ?? 0,
                                      sinceLast: history.map { now - $0.at }) else { continue }
            localRestarts[id] = ((history?.count ?? 0) + 1, now)
            due.insert(id)
        }
        return due
    }

    /// After a container died: if the control plane is (or soon will be) out of reach, converge
    /// once it is and the container's restart backoff has passed, so it is restarted on the node.
    private func scheduleLocalRestart(_ containerId: String) {
        guard let contact, let want = desiredById[containerId], want.state == .running,
              want.restart != nil, want.restart != RestartPolicy.no else { return }
        let backoff = localRestarts[containerId].map { LocalRestart.backoff(afterRestarts: $0.count) } ?? .zero
        let wait = contact.isOutOfReach() ? backoff : max(backoff, contact.outOfReachAfter + .milliseconds(100))
        Task { [self] in
            try? await Task.sleep(for: wait)
            await converge()
        }
    }

    /// Removes the volumes of applications deleted with their volumes, after the containers went.
    /// One still in use (the engine answers 409) or an engine error: tried again at the next
    /// convergence, as long as the desired state lists the application.
    private func removeVolumes() async {
        guard !volumeRemovals.isEmpty,
              let observed = try? await engine.listVolumes(labels: ["\(VolumeLabels.cluster)=\(clusterId)"]) else { return }
        for name in VolumeRemovalPlan.volumesToRemove(clusterId: clusterId, removals: volumeRemovals, observed: observed) {
            try? await engine.removeVolume(name)
        }
    }

    private func execute(_ action: ExecutorAction, _ want: DesiredContainer?) async {
        switch action {
        case .create(let container, let start):
            await create(container, start: start)
        case .start(let engineId, let containerId):
            adopted[containerId] = engineId
            do {
                try await engine.startContainer(engineId)
                if let want { startProbe(want, engineId: engineId) }
            } catch {
                report(failed: containerId, engineId: engineId, "start: \(error)")
            }
            await observe(containerId, engineId: engineId)
        case .stop(let engineId, let containerId, let grace):
            adopted[containerId] = engineId
            stopProbe(containerId)
            await stopGracefully(engineId, grace: grace)
            await observe(containerId, engineId: engineId)
        case .remove(let engineId, let containerId, let grace):
            stopProbe(containerId)
            await stopGracefully(engineId, grace: grace)
            do {
                try await engine.removeContainer(engineId, force: true)
                if adopted[containerId] == engineId { adopted[containerId] = nil }
                reportRemoved(containerId)
            } catch {
                report(failed: containerId, engineId: engineId, "remove: \(error)")
            }
        case .adopt(let engineId, let containerId):
            adopted[containerId] = engineId
            if let want, want.state == .running { startProbe(want, engineId: engineId) }
            await observe(containerId, engineId: engineId)
        case .leave(let engineId, let containerId):
            if let engineId {
                if lastObservation[containerId] == nil { await observe(containerId, engineId: engineId) }
            } else if want?.state == .removed, lastObservation[containerId]?.state != .removed {
                reportRemoved(containerId)
            }
        }
    }

    private func create(_ want: DesiredContainer, start: Bool) async {
        let name = ContainerNaming.name(for: want)
        var engineId: String?
        do {
            if try await !engine.hasImage(want.image) {
                try await engine.pullImage(want.image)
            }
            try await ensureVolumes(want)
            if want.network == .caas { try await ensureNetwork() }
            engineId = try await createOrFind(want, name: name)
            guard let engineId else { return }
            adopted[want.containerId] = engineId
            if start {
                try await engine.startContainer(engineId)
                startProbe(want, engineId: engineId)
            }
            await observe(want.containerId, engineId: engineId)
        } catch {
            report(failed: want.containerId, engineId: engineId, "create \(name): \(error)")
        }
    }

    /// Every named volume the container mounts exists before the container is made: created with
    /// its driver, options and labels when missing; an external one must exist already.
    private func ensureVolumes(_ want: DesiredContainer) async throws(EngineError) {
        for volume in want.volumes where volume.kind == .volume {
            guard let name = volume.source else { continue }
            do {
                _ = try await engine.inspectVolume(name)
            } catch .notFound {
                guard let body = VolumeCreateBody(volume, of: want, clusterId: clusterId) else {
                    throw .notFound("external volume \(name) does not exist on node \(nodeId)")
                }
                _ = try await engine.createVolume(body)
            }
        }
    }

    /// The node's caas network exists on the engine: a bridge for the node's subnet, labelled
    /// `caas.cluster`, created when missing (idempotent: found by name; a concurrent creation's
    /// conflict is success). Its masquerade stays on, so containers still reach what is outside
    /// the routed subnets through the node.
    private func ensureNetwork() async throws(EngineError) {
        guard let network else { throw .notFound("the desired state names no caas network for node \(nodeId)") }
        if networkOnEngine == network { return }
        // One look-or-make at a time: the engine answers a second creation of the same network
        // with an overlapping-pool error, not a conflict.
        if let pending = networkCheck {
            try await pending.value.get()
            if networkOnEngine == network { return }
        }
        let check = Task { await self.findOrMakeNetwork(network) }
        networkCheck = check
        let result = await check.value
        networkCheck = nil
        try result.get()
        networkOnEngine = network
    }

    private func findOrMakeNetwork(_ network: DesiredNodeNetwork) async -> Result<Void, EngineError> {
        let engine = engine, nodeId = nodeId
        func found() async throws(EngineError) -> Bool {
            let existing: EngineNetwork
            do throws(EngineError) {
                existing = try await engine.inspectNetwork(network.name)
            } catch .notFound {
                return false
            }
            guard existing.subnets.contains(network.subnet) else {
                throw .conflict("network \(network.name) on node \(nodeId) has subnets \(existing.subnets), not \(network.subnet)")
            }
            return true
        }
        do throws(EngineError) {
            if try await found() { return .success(()) }
            do {
                try await engine.createNetwork(NetworkCreateBody(
                    name: network.name, subnet: network.subnet, gateway: network.gateway,
                    labels: [ContainerLabels.cluster: clusterId]))
            } catch {
                // Made meanwhile by another agent (or an earlier attempt): it is there.
                if try await found() { return .success(()) }
                throw error
            }
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// The node's caas network, made on the engine when missing; nil when the node has none.
    func preparedNetwork() async throws(EngineError) -> DesiredNodeNetwork? {
        guard network != nil else { return nil }
        try await ensureNetwork()
        return network
    }

    /// The containers that serve now: observed running and not unhealthy (what names answer).
    func serving() -> Set<String> {
        Set(lastObservation.values.filter { ($0.state == .running) && (health[$0.containerId] ?? $0.health) != .unhealthy }.map(\.containerId))
    }

    /// Creates the engine container, or finds ours left by an interrupted attempt under the name.
    private func createOrFind(_ want: DesiredContainer, name: String) async throws(EngineError) -> String {
        do {
            return try await engine.createContainer(name: name, body: ContainerCreateBody(want, clusterId: clusterId, network: network))
        } catch .conflict(let message) {
            let existing = try await engine.inspectContainer(name)
            guard existing.config.labels?[ContainerLabels.container] == want.containerId,
                  existing.config.labels?[ContainerLabels.cluster] == clusterId else {
                throw .conflict("\(message) (a container caas does not manage)")
            }
            return existing.id
        }
    }

    /// SIGTERM, the grace period, SIGKILL (the engine does both); a kill if the stop failed.
    private func stopGracefully(_ engineId: String, grace: Double) async {
        do {
            try await engine.stopContainer(engineId, timeoutSeconds: Int(saturating: grace.rounded(.up)))
        } catch .notFound {
        } catch {
            try? await engine.killContainer(engineId)
        }
    }

    // MARK: Observation

    /// Inspects a container and reports what it is, and where it serves.
    func observe(_ containerId: String, engineId: String) async {
        do {
            let details = try await engine.inspectContainer(engineId)
            if let ports, let port = PortAssignment.heldPort(networkMode: details.hostConfig.networkMode, environment: details.config.env ?? []) {
                ports.adopt([containerId: port])
            }
            var observation = ContainerObservation(details, containerId: containerId, nodeId: nodeId,
                                                   health: health[containerId] ?? .unknown, observedAt: Date())
            observation.locate(details, desired: desiredById[containerId], host: configuration.probeHost)
            if let previous = lastObservation[containerId] {
                observation.cpuPercent = previous.cpuPercent
                observation.memoryBytes = previous.memoryBytes
                observation.memoryLimitBytes = previous.memoryLimitBytes
            }
            if observation.state.isTerminal { stopProbe(containerId) }
            record(observation)
        } catch .notFound {
            reportRemoved(containerId)
        } catch {
            markUnreachable(error)
        }
    }

    /// The ports this node's containers of the cluster hold (container id → `CAAS_PORT`), read
    /// from the engine; a running copy's when one id has several. `nil` when the engine cannot
    /// be listed.
    func heldPorts() async -> [String: Int]? {
        guard let listed = try? await engine.listContainers(labels: [clusterLabel]) else { return nil }
        var held: [String: Int] = [:]
        for summary in listed.sorted(by: { ($0.state == "running" ? 1 : 0) < ($1.state == "running" ? 1 : 0) }) {
            guard let containerId = ObservedEngineContainer(summary).caasContainerId(in: clusterId),
                  let details = try? await engine.inspectContainer(summary.id),
                  let port = PortAssignment.heldPort(networkMode: details.hostConfig.networkMode, environment: details.config.env ?? [])
            else { continue }
            held[containerId] = port
        }
        return held
    }

    /// Reacts to one engine event of a container with our cluster label.
    func handle(_ event: EngineEvent) async {
        guard event.type == "container", event.actor.attributes[ContainerLabels.cluster] == clusterId,
              let containerId = event.actor.attributes[ContainerLabels.container] else { return }
        switch event.action {
        case "destroy":
            if adopted[containerId] == event.actor.id { adopted[containerId] = nil }
            stopProbe(containerId)
            reportRemoved(containerId)
        case "create", "start", "die", "oom", "stop", "pause", "unpause", "restart", "kill":
            await observe(containerId, engineId: event.actor.id)
            if event.action == "die" { scheduleLocalRestart(containerId) }
        default:
            break
        }
    }

    /// Reports every container of ours on the engine and the node itself.
    func fullReport() async -> (containers: [ContainerObservation], node: NodeObservation) {
        await checkEngine()
        guard node.engineReachable, let listed = try? await engine.listContainers(labels: [clusterLabel]) else { return ([], node) }
        var observations: [ContainerObservation] = []
        for summary in listed {
            guard let containerId = ObservedEngineContainer(summary).caasContainerId(in: clusterId) else { continue }
            await observe(containerId, engineId: summary.id)
            if let observation = lastObservation[containerId] { observations.append(observation) }
        }
        return (observations, node)
    }

    /// Pings the engine and reads its version and capacity; reports the node when that changed.
    @discardableResult
    func checkEngine() async -> NodeObservation {
        do {
            try await engine.ping()
            let version = try await engine.version()
            let info = try await engine.info()
            let wasReachable = node.engineReachable
            let fresh = NodeObservation(nodeId: nodeId, engineReachable: true, engineVersion: version.version, apiVersion: version.apiVersion,
                                        cpus: info.cpus, memoryBytes: info.memoryBytes, observedAt: Date())
            setNode(fresh)
            if !wasReachable, desired != nil { Task { await self.converge() } }
        } catch {
            markUnreachable(error)
        }
        return node
    }

    func markReachable() async {
        if !node.engineReachable { await checkEngine() }
    }

    private func markUnreachable(_ error: any Error) {
        guard node.engineReachable || node.error == "not checked yet" else { return }
        setNode(NodeObservation(nodeId: nodeId, engineReachable: false, engineVersion: node.engineVersion, apiVersion: node.apiVersion,
                                cpus: node.cpus, memoryBytes: node.memoryBytes, error: String(describing: error), observedAt: Date()))
    }

    private func setNode(_ fresh: NodeObservation) {
        let changed = fresh.engineReachable != node.engineReachable || fresh.engineVersion != node.engineVersion
            || fresh.cpus != node.cpus || fresh.memoryBytes != node.memoryBytes
        node = fresh
        if changed {
            let batcher = batcher
            Task { await batcher.add(fresh) }
        }
    }

    private func record(_ observation: ContainerObservation) {
        lastObservation[observation.containerId] = observation
        let batcher = batcher
        Task { await batcher.add(observation) }
    }

    private func reportRemoved(_ containerId: String) {
        lastStats[containerId] = nil
        health[containerId] = nil
        record(ContainerObservation(containerId: containerId, nodeId: nodeId, state: .removed, observedAt: Date()))
    }

    private func report(failed containerId: String, engineId: String?, _ message: String) {
        record(ContainerObservation(containerId: containerId, nodeId: nodeId, state: .failed, engineContainerId: engineId,
                                    message: message, observedAt: Date()))
    }

    /// One CPU/memory sample of every running container; CPU percent needs a previous sample.
    func sampleStats() async {
        for (containerId, engineId) in adopted {
            guard let previous = lastObservation[containerId], previous.state == .running,
                  let stats = try? await engine.stats(engineId) else { continue }
            var observation = previous
            if let before = lastStats[containerId] { observation.cpuPercent = ContainerStats.cpuPercent(from: before, to: stats) }
            observation.memoryBytes = stats.memoryWorkingSetBytes
            observation.memoryLimitBytes = stats.memory.limit
            observation.observedAt = Date()
            lastStats[containerId] = stats
            guard lastObservation[containerId]?.state == .running else { continue }
            record(observation)
        }
    }

    // MARK: Probes

    private func startProbe(_ want: DesiredContainer, engineId: String) {
        guard probes[want.containerId] == nil, let probe = want.probe ?? want.healthcheck.flatMap(Probe.init) else { return }
        health[want.containerId] = .starting
        let runner = probeRunner
        let containerId = want.containerId
        probes[containerId] = Task {
            try? await Task.sleep(for: .milliseconds(Int64(saturating: probe.initialDelaySeconds * 1000)))
            let check = await self.target(of: probe.check, want, engineId: engineId)
            var tracker = ProbeTracker(failureThreshold: probe.failureThreshold)
            while !Task.isCancelled {
                let result = await runner.check(check, engineContainerId: engineId, timeoutSeconds: probe.timeoutSeconds)
                if Task.isCancelled { break }
                if let status = tracker.record(result) {
                    self.healthChanged(containerId, status, reason: tracker.lastFailure)
                }
                try? await Task.sleep(for: .milliseconds(Int64(saturating: max(0.05, probe.intervalSeconds) * 1000)))
            }
        }
    }

    /// The check as it runs: an HTTP or TCP check that follows the container's port checks the
    /// port the engine holds for it (an adopted container keeps the port it was started with,
    /// whatever the desired state says now); as desired when the engine cannot say.
    private func target(of check: Probe.Check, _ want: DesiredContainer, engineId: String) async -> Probe.Check {
        guard ProbeTarget.follows(check, network: want.network, published: want.ports),
              let details = try? await engine.inspectContainer(engineId) else { return check }
        return ProbeTarget.check(check, network: want.network, published: want.ports, environment: details.config.env ?? [])
    }

    private func stopProbe(_ containerId: String) {
        probes.removeValue(forKey: containerId)?.cancel()
    }

    private func healthChanged(_ containerId: String, _ status: HealthStatus, reason: String?) {
        guard probes[containerId] != nil else { return }
        health[containerId] = status
        guard var observation = lastObservation[containerId] else { return }
        observation.health = status
        observation.message = status == .unhealthy ? reason : nil
        observation.observedAt = Date()
        record(observation)
    }

    /// The current health of a container, as the probes see it.
    public func healthStatus(of containerId: String) -> HealthStatus {
        health[containerId] ?? .unknown
    }

    /// Stops every probe (the containers keep running).
    func shutdown() {
        for task in probes.values { task.cancel() }
        probes = [:]
    }
}
