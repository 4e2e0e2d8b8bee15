/// How a cluster's containers are networked, chosen when the cluster is created.
public enum ClusterNetworking: String, Sendable, Codable, CaseIterable {
    /// Every container on its node's host network, serving on a loopback address and the `PORT`
    /// the agent gives it (nodes that cannot have caas networks, like the loopback test engines).
    case host
    /// Each node's engine gets a caas bridge network for the node's subnet, and each container its
    /// own address from it, chosen at placement. Node subnets are routed between nodes by the
    /// infrastructure (`GET /v1/clusters/{id}/routes`).
    case nodeSubnets = "node_subnets"
}

/// Container addresses inside a node subnet: pure decisions, no I/O.
///
/// The subnet's first host address is the caas bridge's own (the containers' gateway), its last
/// one the node's name server's (`caas-dns`); the network and broadcast addresses are never given. An address is held while the container row
/// that holds it exists (until its removal is confirmed), so it is never given twice at once.
public enum ContainerAddressAllocator {
    /// The bridge's address in `subnet`: its first host address.
    public static func gateway(of subnet: IPv4Network) -> String? {
        guard subnet.prefixLength <= 30 else { return nil }
        return IPv4Network.format(subnet.address + 1)
    }

    /// The node's name server in `subnet`: its last host address.
    public static func nameServer(of subnet: IPv4Network) -> String? {
        guard subnet.prefixLength <= 29 else { return nil }
        return IPv4Network.format(subnet.address + UInt32(subnet.size - 2))
    }

    /// How many containers `subnet` can hold at once.
    public static func capacity(of subnet: IPv4Network) -> Int {
        subnet.prefixLength <= 29 ? Int(subnet.size) - 4 : 0
    }

    /// `count` free addresses of `subnet`, lowest first, none of `held`; fewer when the subnet is
    /// full. Addresses outside the subnet in `held` are ignored.
    public static func pick(_ count: Int, in subnet: IPv4Network, held: some Sequence<String>) -> [String] {
        guard count > 0, subnet.prefixLength <= 29 else { return [] }
        let taken = Set(held.compactMap { IPv4Network.parseAddress($0) })
        let first = subnet.address + 2, last = subnet.address + UInt32(subnet.size - 3)
        var picked: [String] = []
        var candidate = first
        while candidate <= last, picked.count < count {
            if !taken.contains(candidate) { picked.append(IPv4Network.format(candidate)) }
            candidate += 1
        }
        return picked
    }

    /// The engine network caas makes on every node of a cluster for its node subnet.
    public static func networkName(clusterId: String) -> String {
        "caas-" + clusterId
    }
}

/// One entry of a cluster's route table for the infrastructure (`GET /v1/clusters/{id}/routes`):
/// the node's subnet is to be routed to the node's address.
public enum NodeRoute {
    /// The label an operator sets on a node to name the address its subnet is routed to.
    public static let addressLabel = "caas.address"

    /// Where a node's subnet is routed: its `caas.address` label, else the host of a `tcp://`
    /// engine endpoint when it is an IPv4 address; `nil` when neither says (a unix socket engine
    /// without the label).
    public static func via(labels: [String: String], engineEndpoint: String) -> String? {
        if let address = labels[addressLabel], IPv4Network.parseAddress(address) != nil { return address }
        guard engineEndpoint.hasPrefix("tcp://") else { return nil }
        let authority = engineEndpoint.dropFirst("tcp://".count).split(separator: "/").first.map(String.init) ?? ""
        let host = authority.split(separator: ":").first.map(String.init) ?? ""
        return IPv4Network.parseAddress(host) != nil ? host : nil
    }
}

/// The names a container of an application on caas networks resolves (the node's name server
/// answers them): every container service of its application by name and by its network
/// aliases, every `links` alias (`db:mysql` → `mysql`) to its target's containers, and every
/// `external:` service to its host (a CNAME) or address. Names of other applications are never
/// among them.
public enum ServiceNames {
    /// - Parameters:
    ///   - services: the application's container services, with their network aliases.
    public static func names(services: [String: [String]], links: [ServiceLink], externals: [String: String]) -> [DesiredName] {
        var names: [DesiredName] = []
        var seen = Set<String>()
        func add(_ name: DesiredName) {
            if seen.insert(name.name.lowercased()).inserted { names.append(name) }
        }
        // Links first: an alias named like a service means the linked one (compose's rule).
        for link in links { add(DesiredName(name: link.alias, service: link.target)) }
        for service in services.keys.sorted() { add(DesiredName(name: service, service: service)) }
        for service in services.keys.sorted() {
            for alias in services[service]! { add(DesiredName(name: alias, service: service)) }
        }
        for (name, host) in externals.sorted(by: { $0.key < $1.key }) { add(DesiredName(name: name, target: host)) }
        return names
    }
}
