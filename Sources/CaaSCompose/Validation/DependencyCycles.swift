/// Finds dependency cycles among services (depends_on, links, depends labels, network_mode service:).
enum DependencyCycles {
    struct Cycle: Equatable {
        /// Service names, starting and ending with the same service: `["web", "db", "web"]`.
        var path: [String]
        var description: String { path.joined(separator: " -> ") }
    }

    /// Each distinct cycle once, written from the service declared first, in declaration order.
    static func find(order: [String], edges: [String: [String]]) -> [Cycle] {
        let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var state: [String: Int] = [:]  // 1: on the stack, 2: done
        var stack: [String] = []
        var seen = Set<[String]>()
        var cycles: [Cycle] = []

        func visit(_ node: String) {
            state[node] = 1
            stack.append(node)
            for next in edges[node] ?? [] {
                switch state[next] {
                case 1:
                    let start = stack.lastIndex(of: next)!
                    var ring = Array(stack[start...])
                    // Rotate so the first-declared service leads.
                    let lead = ring.indices.min { rank[ring[$0], default: .max] < rank[ring[$1], default: .max] }!
                    ring = Array(ring[lead...] + ring[..<lead])
                    if seen.insert(ring).inserted {
                        cycles.append(Cycle(path: ring + [ring[0]]))
                    }
                case nil:
                    visit(next)
                default:
                    break
                }
            }
            stack.removeLast()
            state[node] = 2
        }

        for service in order where state[service] == nil {
            visit(service)
        }
        return cycles.sorted { rank[$0.path[0], default: .max] < rank[$1.path[0], default: .max] }
    }
}
