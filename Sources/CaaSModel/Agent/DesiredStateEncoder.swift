import Foundation
import Synchronization

/// Encodes one cluster's successive desired states for the wire, byte for byte as
/// `AgentWire.encoder()` would, re-encoding only the containers that changed since the last push.
///
/// Every push carries the cluster's full desired state, and most of it is the same as in the
/// previous push: during a burst of placements each push adds a few hundred containers to
/// thousands. A container's encoded JSON is kept with the value it was made from and reused while
/// the container is unchanged (compared for equality, which is far cheaper than encoding); the
/// state around the containers is written directly. Containers that leave the state leave the
/// cache, so it holds one cluster's last state at most.
public final class DesiredStateEncoder: Sendable {
    private struct Fragment {
        var container: DesiredContainer
        var bytes: [UInt8]
    }

    private let fragments = Mutex<[String: Fragment]>([:])

    public init() {}

    /// The JSON of `state`, equal to `AgentWire.encoder().encode(state)`.
    public func encode(_ state: DesiredClusterState) throws -> [UInt8] {
        let encoder = AgentWire.encoder()
        let previous = fragments.withLock { $0 }
        var next: [String: Fragment] = [:]
        next.reserveCapacity(previous.count)
        // Keys in sorted order, as the encoder's `.sortedKeys` writes them.
        var out: [UInt8] = []
        out.reserveCapacity(previous.values.reduce(256) { $0 + $1.bytes.count + 1 })
        out += #"{"cluster_id":"#.utf8
        out += try encoder.encode(state.clusterId)
        out += #","generation":"#.utf8
        out += try encoder.encode(state.generation)
        out += #","nodes":["#.utf8
        for (n, node) in state.nodes.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"containers":["#.utf8
            for (c, container) in node.containers.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                let bytes: [UInt8]
                if let kept = previous[container.containerId], kept.container == container {
                    bytes = kept.bytes
                } else {
                    bytes = Array(try encoder.encode(container))
                }
                next[container.containerId] = Fragment(container: container, bytes: bytes)
                out += bytes
            }
            out += "]".utf8
            if let network = node.network {
                out += #","network":"#.utf8
                out += try encoder.encode(network)
            }
            out += #","node_id":"#.utf8
            out += try encoder.encode(node.nodeId)
            out.append(UInt8(ascii: "}"))
        }
        out += #"],"volume_removals":"#.utf8
        out += try encoder.encode(state.volumeRemovals)
        out += "}".utf8
        fragments.withLock { $0 = next }
        return out
    }
}
