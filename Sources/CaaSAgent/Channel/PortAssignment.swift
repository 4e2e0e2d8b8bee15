import CaaSModel
import Foundation

/// The port each container serves on, given to it as `PORT` (and `CAAS_PORT`) in its environment.
///
/// Containers use host networking on loopback, so two replicas — on one node, or on two nodes of
/// one machine — must not both listen on the same port. A container whose spec publishes ports is
/// given its first host port; any other host-network container gets a port of `range` that no
/// other container of the cluster's desired state holds, derived from its container id (stable
/// across pushes and agent restarts) and remembered while the agent runs. HTTP and TCP probes of a
/// container without published ports check the assigned port. Every container also learns
/// `CAAS_CONTAINER_ID`, `CAAS_SLOT`, `CAAS_SERVICE` and `CAAS_NODE_ID`.
public final class PortAssignment: @unchecked Sendable {
    public let range: Range<Int>
    private let lock = NSLock()
    private var assigned: [String: Int] = [:]

    public init(range: Range<Int> = 20_000..<30_000) {
        precondition(!range.isEmpty)
        self.range = range
    }

    /// The state with every container's environment (and probe port) completed.
    public func decorate(_ state: DesiredClusterState) -> DesiredClusterState {
        lock.lock()
        defer { lock.unlock() }
        let present = Set(state.nodes.flatMap { $0.containers.map(\.containerId) })
        assigned = assigned.filter { present.contains($0.key) }
        var taken = Set(assigned.values)
        for node in state.nodes {
            for container in node.containers { if let port = container.ports.first?.hostPort { taken.insert(port) } }
        }
        var result = state
        // Containers that already hold a port keep it; new ones are placed in id order.
        let order = state.nodes.flatMap { $0.containers.map(\.containerId) }.sorted()
        for id in order where assigned[id] == nil {
            guard let container = state.nodes.lazy.flatMap(\.containers).first(where: { $0.containerId == id }),
                  container.network == .host, container.ports.isEmpty else { continue }
            var port = range.lowerBound + Self.hash(id) % range.count
            var probes = 0
            while taken.contains(port), probes < range.count {
                port = port + 1 == range.upperBound ? range.lowerBound : port + 1
                probes += 1
            }
            assigned[id] = port
            taken.insert(port)
        }
        for n in result.nodes.indices {
            let nodeId = result.nodes[n].nodeId
            for c in result.nodes[n].containers.indices {
                var container = result.nodes[n].containers[c]
                var extra = [EnvironmentVariable(name: "CAAS_CONTAINER_ID", value: container.containerId),
                             EnvironmentVariable(name: "CAAS_SERVICE", value: container.serviceName),
                             EnvironmentVariable(name: "CAAS_SLOT", value: String(container.slot)),
                             EnvironmentVariable(name: "CAAS_NODE_ID", value: nodeId)]
                let port = container.ports.first?.hostPort ?? assigned[container.containerId]
                if let port, container.network == .host {
                    extra.append(EnvironmentVariable(name: "CAAS_PORT", value: String(port)))
                    if !container.environment.contains(where: { $0.name == "PORT" }) {
                        extra.append(EnvironmentVariable(name: "PORT", value: String(port)))
                    }
                    if container.ports.isEmpty, var probe = container.probe {
                        switch probe.check {
                        case .http(_, let path): probe.check = .http(port: port, path: path)
                        case .tcp: probe.check = .tcp(port: port)
                        case .command: break
                        }
                        container.probe = probe
                    }
                }
                // Ours first: the spec's own values come later and win in the engine.
                container.environment = extra + container.environment
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
