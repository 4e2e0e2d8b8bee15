import CaaSModel

/// The port an HTTP or TCP probe checks, decided on values (a pure function).
///
/// A host-network container without published ports serves on its `PORT`: the spec's own
/// `PORT` when it sets one (it comes later in the environment and wins in the engine), else the
/// port `PortAssignment` gave it (`CAAS_PORT`). Its HTTP and TCP probes check that port, found in
/// the environment as the engine keeps it by the rule `ServingAddress` reports addresses with —
/// the port in the probe (`http://container/…` is port 80) was written for a network of the
/// container's own, which it does not have. The probes of a container that publishes ports, or
/// that has a network of its own or none, and command probes, are left as they are.
public enum ProbeTarget {
    /// The check as it runs against the container.
    /// - Parameters:
    ///   - network: the container's desired network.
    ///   - published: its desired published ports.
    ///   - environment: its environment as the engine keeps (or will keep) it, `NAME=value`.
    public static func check(_ check: Probe.Check, network: DesiredNetwork, published: [DesiredPort], environment: [String]) -> Probe.Check {
        guard follows(check, network: network, published: published), let port = ServingAddress.port(environment) else { return check }
        switch check {
        case .http(_, let path): return .http(port: port, path: path)
        case .tcp: return .tcp(port: port)
        case .command: return check
        }
    }

    /// Whether the check follows the port the container serves on (an HTTP or TCP check of a
    /// host-network container without published ports).
    public static func follows(_ check: Probe.Check, network: DesiredNetwork, published: [DesiredPort]) -> Bool {
        guard network == .host, published.isEmpty else { return false }
        switch check {
        case .http, .tcp: return true
        case .command: return false
        }
    }
}
