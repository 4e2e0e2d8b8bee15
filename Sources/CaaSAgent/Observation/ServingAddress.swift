import CaaSModel

/// Where a container can be reached, decided from what its engine says and what the agent
/// applied (a pure function of values).
///
/// Containers use host networking on loopback: a host-network container serves on its `PORT` —
/// the port `PortAssignment` gave it (also as `CAAS_PORT`: its first published host port, or one
/// assigned from the agent's range), unless its spec sets `PORT` itself, which then wins in the
/// engine and here. The engine's copy of the environment is read, not the agent's memory, so a
/// container adopted by a restarted agent keeps the address it really serves on. A bridge
/// container is reached at its first published host port (on the binding's address when it
/// names one); a container without a network, or a bridge one without published ports, has no
/// address from the node.
public enum ServingAddress {
    /// `host:port`, `[host]:port` for an IPv6 host; `nil` when the container has no address.
    /// - Parameters:
    ///   - networkMode: the engine's network mode (`host`, `none`, `bridge`, `default`, …);
    ///     `nil` when unknown, and then `desired`'s network decides.
    ///   - environment: the container's environment as the engine keeps it (`NAME=value`).
    ///   - desired: the container as the agent applied it (its network and published ports).
    ///   - host: where the agent reaches loopback services (its probe host, `127.0.0.1`).
    public static func address(networkMode: String?, environment: [String], desired: DesiredContainer?, host: String) -> String? {
        switch network(networkMode, desired) {
        case .host:
            guard let port = port(environment) ?? desired?.ports.first?.hostPort else { return nil }
            return join(host, port)
        case .bridge:
            guard let published = desired?.ports.first else { return nil }
            return join(specific(published.hostAddress) ?? host, published.hostPort)
        case .caas:
            // Its own address on the node's caas network (it serves on its own ports there).
            return desired?.address
        case .some(.none), nil:
            return nil
        }
    }

    /// The published port mappings as the agent applied them: `desired`'s (with host networking
    /// the container serves on the first one's host port), none without a network, `nil` when
    /// the agent does not hold the container's desired state.
    public static func ports(networkMode: String?, desired: DesiredContainer?) -> [DesiredPort]? {
        if network(networkMode, desired) == .some(.none) { return [] }
        return desired?.ports
    }

    /// The port the container was told to serve on: its `PORT`, else `CAAS_PORT` (the last of
    /// each, as the engine keeps the last of duplicates); `nil` when neither is a port number.
    static func port(_ environment: [String]) -> Int? {
        variable("PORT", in: environment) ?? variable("CAAS_PORT", in: environment)
    }

    /// The port number a variable holds (its last value, as the engine keeps the last of
    /// duplicates); `nil` when it is absent or no port number.
    static func variable(_ name: String, in environment: [String]) -> Int? {
        let prefix = name + "="
        guard let entry = environment.last(where: { $0.hasPrefix(prefix) }), let port = Int(entry.dropFirst(prefix.count)),
              (1...65_535).contains(port) else { return nil }
        return port
    }

    /// `host:port`, with brackets around an IPv6 host.
    static func join(_ host: String, _ port: Int) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func network(_ mode: String?, _ desired: DesiredContainer?) -> DesiredNetwork? {
        switch mode {
        case "host": .host
        case "none": DesiredNetwork.none
        case .some(let name) where name.hasPrefix("caas-"): .caas
        case .some: .bridge
        case nil: desired?.network
        }
    }

    /// A binding address that names one interface; `nil` for "every address of the node".
    private static func specific(_ address: String?) -> String? {
        guard let address, !["", "0.0.0.0", "::", "[::]"].contains(address) else { return nil }
        return address
    }
}

extension ContainerObservation {
    /// Adds where the container serves (`address`) and its published ports as the agent applied
    /// them (`ports`, left unsaid when the agent does not hold the container's desired state).
    mutating func locate(_ details: ContainerDetails, desired: DesiredContainer?, host: String) {
        address = ServingAddress.address(networkMode: details.hostConfig.networkMode, environment: details.config.env ?? [],
                                         desired: desired, host: host)
        ports = ServingAddress.ports(networkMode: details.hostConfig.networkMode, desired: desired)
    }
}
