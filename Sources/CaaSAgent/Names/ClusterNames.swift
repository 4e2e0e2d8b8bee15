import CaaSDNS
import CaaSModel

/// The name table of a cluster's name servers, from the applied desired state and what serves
/// now: a pure function of values.
///
/// Each container on a caas network is a client whose scope is its application's service; the
/// scope's names (`DesiredContainer.names`) answer the addresses of the named service's containers
/// that are desired running, observed running and not unhealthy (none while none serves), or an
/// external service's host. Every node's server gets the whole cluster's table: a client only
/// ever asks the server of its own node.
public enum ClusterNames {
    public static func table(_ state: DesiredClusterState, serving: Set<String>) -> NameTable {
        let containers = state.nodes.flatMap(\.containers).sorted { $0.containerId < $1.containerId }
        var addresses: [String: [String]] = [:]
        for container in containers where container.state == .running && serving.contains(container.containerId) {
            if let address = container.address { addresses[scope(container.appId, container.serviceName), default: []].append(address) }
        }
        var table = NameTable()
        var named = Set<String>()
        for container in containers {
            guard let address = container.address, let names = container.names else { continue }
            let scope = scope(container.appId, container.serviceName)
            table.addClient(address, scope: scope)
            guard named.insert(scope).inserted else { continue }
            for name in names {
                if let service = name.service {
                    table.addAddresses(addresses[Self.scope(container.appId, service)] ?? [], name: name.name, scope: scope)
                } else if let target = name.target {
                    table.addAlias(target, name: name.name, scope: scope)
                }
            }
        }
        return table
    }

    static func scope(_ app: String, _ service: String) -> String { app + "/" + service }
}
