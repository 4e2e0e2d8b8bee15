import CaaSModel

/// A rule an `AppSpec` breaks, found without any compose text (e.g. a spec edited through the API).
public struct SpecProblem: Sendable, Equatable, CustomStringConvertible {
    /// Where, as a path into the spec: `services[web].ports[1]`.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

extension AppSpec {
    /// Every rule the spec breaks; empty when it can be planned. The compose parser never produces
    /// a spec with problems; this is the check for specs built or changed by other means.
    public func validationProblems(limits: ComposeLimits = .standard) -> [SpecProblem] {
        var problems: [SpecProblem] = []
        func add(_ path: String, _ message: String) { problems.append(SpecProblem(path: path, message: message)) }

        let total = services.count + externalServices.count
        if total == 0 { add("services", "the application has no service") }
        if total > limits.maxServices { add("services", "\(total) services is more than the limit of \(limits.maxServices)") }

        var seen = Set<String>()
        for name in services.map(\.name) + externalServices.map(\.name) {
            if let problem = ServiceName.problem(name) { add("services[\(name)]", problem) }
            if !seen.insert(name).inserted { add("services[\(name)]", "service name '\(name)' is used twice") }
        }
        let containerNames = Set(services.map(\.name))
        let volumeNames = Set(volumes.map(\.name))
        var edges: [String: [String]] = [:]

        for service in services {
            let at = "services[\(service.name)]"
            if service.image.trimmingSpaces.isEmpty { add(at + ".image", "a service needs an image") }
            if service.replicas < 0 { add(at + ".replicas", "replicas cannot be negative") }
            for (i, port) in service.ports.enumerated() {
                for range in [port.target] + (port.published.map { [$0] } ?? []) where !Self.isValid(range) {
                    add(at + ".ports[\(i)]", "\(range.lower)-\(range.upper) is not a valid port range")
                }
                if let published = port.published, published.count != port.target.count {
                    add(at + ".ports[\(i)]", "the published range has \(published.count) ports but the target range has \(port.target.count)")
                }
            }
            for (i, range) in service.expose.enumerated() where !Self.isValid(range) {
                add(at + ".expose[\(i)]", "\(range.lower)-\(range.upper) is not a valid port range")
            }
            for (i, mount) in service.volumes.enumerated() {
                if !mount.target.hasPrefix("/") { add(at + ".volumes[\(i)]", "the container path '\(mount.target)' must be absolute") }
                switch mount.kind {
                case .volume:
                    if let name = mount.source, !volumeNames.contains(name) {
                        add(at + ".volumes[\(i)]", "volume '\(name)' is not declared")
                    } else if mount.source == nil {
                        add(at + ".volumes[\(i)]", "a named volume mount needs a source")
                    }
                case .bind:
                    if (mount.source ?? "").isEmpty { add(at + ".volumes[\(i)]", "a bind mount needs a host path") }
                case .anonymous, .tmpfs:
                    break
                }
            }
            for (i, link) in service.links.enumerated() where !seen.contains(link.target) {
                add(at + ".links[\(i)]", "links to unknown service '\(link.target)'")
            }
            for (i, dependency) in service.dependsOn.enumerated() where !seen.contains(dependency.service) {
                add(at + ".dependsOn[\(i)]", "depends on unknown service '\(dependency.service)'")
            }
            edges[service.name] = (service.dependsOn.map(\.service) + service.links.map(\.target)).filter(containerNames.contains)
            if let policy = service.autoScaling {
                if policy.minInstances > policy.maxInstances { add(at + ".autoScaling", "minInstances exceeds maxInstances") }
                if policy.step < 1 { add(at + ".autoScaling", "step must be at least 1") }
                if policy.maxCPU == nil && policy.minCPU == nil { add(at + ".autoScaling", "needs maxCPU or minCPU") }
            }
            if let probe = service.probe {
                switch probe.check {
                case .http(let port, _), .tcp(let port):
                    if !PortSyntax.validPorts.contains(port) { add(at + ".probe", "probe port \(port) is out of range") }
                case .command(let words):
                    if words.isEmpty { add(at + ".probe", "the probe command is empty") }
                }
            }
            for (i, route) in service.routes.enumerated() {
                if !PortSyntax.validPorts.contains(route.containerPort) { add(at + ".routes[\(i)]", "container port \(route.containerPort) is out of range") }
                if !LabelExtensions.isHostName(route.host, allowWildcard: true) { add(at + ".routes[\(i)]", "'\(route.host)' is not a host name") }
            }
        }
        for external in externalServices {
            let at = "services[\(external.name)]"
            if external.host.trimmingSpaces.isEmpty { add(at + ".host", "an external service needs a host") }
            for port in external.ports where !PortSyntax.validPorts.contains(port) {
                add(at + ".ports", "port \(port) is out of range")
            }
        }
        for cycle in DependencyCycles.find(order: services.map(\.name), edges: edges) {
            add("services[\(cycle.path[0])]", "dependency cycle: \(cycle.description)")
        }
        return problems
    }

    private static func isValid(_ range: PortRange) -> Bool {
        PortSyntax.validPorts.contains(range.lower) && PortSyntax.validPorts.contains(range.upper) && range.lower <= range.upper
    }
}
