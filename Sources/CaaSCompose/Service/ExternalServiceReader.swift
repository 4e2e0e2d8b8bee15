import CaaSModel

extension ServiceReader {
    /// `external: {host: …, ports: [3306]}`: an endpoint outside the cluster that services link to
    /// by name; never a container. Other service keys beside `external` are ignored with a warning.
    func readExternal(name: String, node: YNode, external: YNode) -> ExternalServiceSpec? {
        for entry in node.entries ?? [] where entry.key != "external" && entry.key != "labels" && !entry.key.hasPrefix("x-") {
            log.warning(key: entry, "'\(entry.key)' is ignored: '\(name)' is an external service, not a container")
        }
        guard let entries = reader.mapping(external, what: "a mapping with 'host' and 'ports'") else { return nil }
        reader.checkKeys(entries, known: ["host", "ports"], context: "external service '\(name)'")
        guard let hostNode = external["host"] else {
            log.error(external, "external service '\(name)' needs 'host'")
            return nil
        }
        guard let host = reader.string(hostNode, what: "a host name or address") else { return nil }
        let trimmed = host.trimmingSpaces
        guard LabelExtensions.isHostName(trimmed.lowercased(), allowWildcard: false) || PortSyntax.isPlausibleAddress(trimmed) else {
            log.error(hostNode, "'\(host)' is not a host name or IP address")
            return nil
        }
        var ports: [Int] = []
        if let portsNode = external["ports"], let items = reader.list(portsNode, what: "a list of ports") {
            for item in items {
                if let port = reader.int(item, what: "a port number", in: PortSyntax.validPorts) { ports.append(port) }
            }
        }
        return ExternalServiceSpec(name: name, host: trimmed, ports: ports)
    }
}
