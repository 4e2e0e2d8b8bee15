import CaaSModel

/// One step the executor takes on a node's engine.
public enum ExecutorAction: Sendable, Equatable {
    /// Create the engine container (pulling or checking the image first), then start it when `start`.
    case create(DesiredContainer, start: Bool)
    case start(engineId: String, containerId: String)
    /// SIGTERM, the grace period, then SIGKILL; the container stays.
    case stop(engineId: String, containerId: String, graceSeconds: Double)
    /// Stop (when alive) as above, then remove the container and its anonymous volumes.
    case remove(engineId: String, containerId: String, graceSeconds: Double)
    /// An existing container that matches the desired state: watch it, never restart it.
    case adopt(engineId: String, containerId: String)
    /// Nothing to do, with the reason (an exited container is the control plane's to replace).
    case leave(engineId: String?, containerId: String)

    public var containerId: String {
        switch self {
        case .create(let desired, _): desired.containerId
        case .start(_, let id), .stop(_, let id, _), .remove(_, let id, _), .adopt(_, let id), .leave(_, let id): id
        }
    }

    /// Removals and stops free ports and memory before anything new is created.
    var order: Int {
        switch self {
        case .remove: 0
        case .stop: 1
        case .create: 2
        case .start: 3
        case .adopt: 4
        case .leave: 5
        }
    }

    /// Whether the step changes the engine (adopt and leave do not).
    public var changesEngine: Bool {
        switch self {
        case .create, .start, .stop, .remove: true
        case .adopt, .leave: false
        }
    }
}

/// An action and why it was chosen.
public struct PlannedAction: Sendable, Equatable {
    public var action: ExecutorAction
    public var reason: String

    public init(_ action: ExecutorAction, _ reason: String) {
        self.action = action
        self.reason = reason
    }
}

/// The executor's decision, a pure function of values: what one node's engine must do to match
/// its desired containers.
public enum ExecutorPlanner {
    /// - Parameters:
    ///   - desired: the node's desired containers (from the applied `DesiredClusterState`).
    ///   - observed: every container the engine lists; those without this cluster's labels are
    ///     ignored entirely.
    ///   - adopted: caas container ids the executor already watches (no `adopt` for them).
    ///   - restartLocally: dead containers to start again in place (the control plane is out of
    ///     reach and their restart policy says so: `LocalRestart`); any other dead container is
    ///     left for the control plane to replace.
    /// - Returns: actions ordered removals, stops, creates, starts, adoptions, then the rest;
    ///   by container id within each kind.
    public static func plan(
        clusterId: String,
        desired: [DesiredContainer],
        observed: [ObservedEngineContainer],
        adopted: Set<String> = [],
        restartLocally: Set<String> = []
    ) -> [PlannedAction] {
        var ours: [String: [ObservedEngineContainer]] = [:]
        for container in observed {
            guard let id = container.caasContainerId(in: clusterId) else { continue }
            ours[id, default: []].append(container)
        }
        var actions: [PlannedAction] = []
        var wanted = Set<String>()

        for want in desired {
            guard wanted.insert(want.containerId).inserted else { continue }
            let copies = ours[want.containerId] ?? []
            let kept = preferred(copies)
            for copy in copies where copy.engineId != kept?.engineId {
                actions.append(PlannedAction(.remove(engineId: copy.engineId, containerId: want.containerId, graceSeconds: want.stopGracePeriodSeconds),
                                             "duplicate engine container \(copy.name) of \(want.containerId)"))
            }
            actions.append(decide(want, kept, adopted: adopted.contains(want.containerId),
                                  restartLocally: restartLocally.contains(want.containerId)))
        }

        for (id, copies) in ours where !wanted.contains(id) {
            for copy in copies {
                actions.append(PlannedAction(.remove(engineId: copy.engineId, containerId: id, graceSeconds: 10),
                                             "not in the desired state"))
            }
        }
        return actions
            .sorted { ($0.action.order, $0.action.containerId) < ($1.action.order, $1.action.containerId) }
    }

    private static func decide(_ want: DesiredContainer, _ existing: ObservedEngineContainer?, adopted: Bool,
                               restartLocally: Bool) -> PlannedAction {
        let id = want.containerId
        guard let existing else {
            switch want.state {
            case .running: return PlannedAction(.create(want, start: true), "missing on the engine")
            case .stopped: return PlannedAction(.leave(engineId: nil, containerId: id), "desired stopped and never created")
            case .removed: return PlannedAction(.leave(engineId: nil, containerId: id), "already removed")
            }
        }
        let engineId = existing.engineId
        switch want.state {
        case .removed:
            return PlannedAction(.remove(engineId: engineId, containerId: id, graceSeconds: want.stopGracePeriodSeconds), "desired removed")
        case .stopped:
            if existing.isLive {
                return PlannedAction(.stop(engineId: engineId, containerId: id, graceSeconds: want.stopGracePeriodSeconds), "desired stopped, engine says \(existing.status.rawValue)")
            }
            return adopted
                ? PlannedAction(.leave(engineId: engineId, containerId: id), "stopped as desired")
                : PlannedAction(.adopt(engineId: engineId, containerId: id), "found stopped, as desired")
        case .running:
            switch existing.status {
            case .running, .paused, .restarting:
                return adopted
                    ? PlannedAction(.leave(engineId: engineId, containerId: id), "running as desired")
                    : PlannedAction(.adopt(engineId: engineId, containerId: id), "found \(existing.status.rawValue): adopted, not restarted")
            case .created:
                return PlannedAction(.start(engineId: engineId, containerId: id), "created but never started")
            case .exited where restartLocally, .dead where restartLocally:
                return PlannedAction(.start(engineId: engineId, containerId: id),
                                     "\(existing.status.rawValue) while the control plane is out of reach: restarted in place by its restart policy")
            case .exited, .dead, .removing, .unknown:
                return PlannedAction(.leave(engineId: engineId, containerId: id),
                                     "\(existing.status.rawValue): replacing it is the control plane's decision")
            }
        }
    }

    /// Of several engine containers for one caas container, the live one, else the newest.
    private static func preferred(_ copies: [ObservedEngineContainer]) -> ObservedEngineContainer? {
        copies.max { a, b in
            if a.isLive != b.isLive { return !a.isLive }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.engineId < b.engineId
        }
    }
}
