import CaaSModel
import Foundation

/// The port each container serves on, given to it as `PORT` (and `CAAS_PORT`) in its environment.
///
/// Containers use host networking on loopback, so two replicas — on one node, or on two nodes of
/// one machine — must not both listen on the same port. A container whose spec publishes ports is
/// given its first host port; any other host-network container gets a port of `range` that no
/// other container of the cluster's desired state holds (a published port, a `PORT` its spec
/// sets, a port given before), derived from its container id and remembered while the agent runs.
/// Every container also learns `CAAS_CONTAINER_ID`, `CAAS_SLOT`, `CAAS_SERVICE` and `CAAS_NODE_ID`.
///
/// A container keeps the port it was started with for its life, and its engine holds it (its
/// `CAAS_PORT`). Which port a new id gets depends on what is taken when it arrives, so an agent
/// that starts again first `adopt`s the ports its engines' containers hold: adopted containers
/// keep their ports (and their probes follow them), and new containers are placed around them.
/// The executor adopts the port of every container it observes, too (one on an engine that was
/// unreachable when the agent started).
///
/// HTTP and TCP probes of a host-network container without published ports check the port it
/// serves on (`ProbeTarget`): the spec's own `PORT` when it sets one, else the assigned port.
public final class PortAssignment: @unchecked Sendable {
    public let range: Range<Int>
    private let lock = NSLock()
    private var assigned: [String: Int] = [:]

    public init(range: Range<Int> = 20_000..<30_000) {
        precondition(!range.isEmpty)
        self.range = range
    }

    /// Records the ports containers hold on the engines (container id → its `CAAS_PORT`): each
    /// keeps its port from now on, and no new container is given one of them.
    public func adopt(_ held: [String: Int]) {
        lock.lock()
        defer { lock.unlock() }
        for (containerId, port) in held { assigned[containerId] = port }
    }

    /// The state with every container's environment (and probe port) completed.
    public func decorate(_ state: DesiredClusterState) -> DesiredClusterState {
        lock.lock()
        defer { lock.unlock() }
        let containers = state.nodes.flatMap(\.containers)
        let byId = Dictionary(containers.map { ($0.containerId, $0) }, uniquingKeysWith: { first, _ in first })
        assigned = assigned.filter { byId[$0.key] != nil }
        var taken = Set(assigned.values)
        for container in containers {
            taken.formUnion(container.ports.map(\.hostPort))
            if container.network == .host, let own = Self.ownPort(container) { taken.insert(own) }
        }
        // Containers that already hold a port keep it; new ones are placed in id order.
        for id in byId.keys.sorted() where assigned[id] == nil {
            guard let container = byId[id], container.network == .host, container.ports.isEmpty else { continue }
            var port = range.lowerBound + Self.hash(id) % range.count
            var probes = 0
            while taken.contains(port), probes < range.count {
                port = port + 1 == range.upperBound ? range.lowerBound : port + 1
                probes += 1
            }
            assigned[id] = port
            taken.insert(port)
        }
        var result = state
        for n in result.nodes.indices {
            let nodeId = result.nodes[n].nodeId
            for c in result.nodes[n].containers.indices {
                var container = result.nodes[n].containers[c]
                var extra = [EnvironmentVariable(name: "CAAS_CONTAINER_ID", value: container.containerId),
                             EnvironmentVariable(name: "CAAS_SERVICE", value: container.serviceName),
                             EnvironmentVariable(name: "CAAS_SLOT", value: String(container.slot)),
                             EnvironmentVariable(name: "CAAS_NODE_ID", value: nodeId)]
                if container.network == .host, let port = container.ports.first?.hostPort ?? assigned[container.containerId] {
                    extra.append(EnvironmentVariable(name: "CAAS_PORT", value: String(port)))
                    if !container.environment.contains(where: { $0.name == "PORT" && $0.value != nil }) {
                        extra.append(EnvironmentVariable(name: "PORT", value: String(port)))
                    }
                }
                // Ours first: the spec's own values come later and win in the engine.
                container.environment = extra + container.environment
                if var probe = container.probe {
                    probe.check = ProbeTarget.check(probe.check, network: container.network, published: container.ports,
                                                    environment: container.engineEnvironment)
                    container.probe = probe
                }
                result.nodes[n].containers[c] = container
            }
        }
        return result
    }

    /// The port assigned to a container, if any.
    public func port(of containerId: String) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return assigned[containerId]
    }

    /// The port a container holds on its engine, from what the engine says of it: a host-network
    /// container's `CAAS_PORT`; `nil` for any other.
    static func heldPort(networkMode: String?, environment: [String]) -> Int? {
        guard networkMode == "host" else { return nil }
        return ServingAddress.variable("CAAS_PORT", in: environment)
    }

    /// The `PORT` a container's spec sets itself (a port number), before the agent adds its own.
    static func ownPort(_ container: DesiredContainer) -> Int? {
        ServingAddress.variable("PORT", in: container.engineEnvironment)
    }

    /// FNV-1a over the id: the same id gives the same start on every agent.
    static func hash(_ text: String) -> Int {
        var value: UInt64 = 0xcbf29ce484222325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100000001b3
        }
        return Int(value % UInt64(Int.max))
    }
}
