import CaaSModel

/// What every service read needs to know about the whole file.
struct ServiceContext {
    var containerServices: Set<String>
    var externalServices: Set<String>
    var declaredVolumes: Set<String>
    var isVersion1: Bool
}

/// Reads one container service into a `ServiceSpec`, reporting every problem it finds.
struct ServiceReader {
    let log: DiagnosticLog
    let reader: ValueReader
    let context: ServiceContext
    /// Deploy-time variables, for bare `KEY` environment entries.
    let variables: [String: String]

    struct Output {
        var spec: ServiceSpec
        /// Edges for cycle detection: dependencies and links to container services, with their node.
        var edges: [(target: String, node: YNode)]
        var passthrough: [VariableReference]
        /// Compose v1: named volumes used without declaration.
        var implicitVolumes: [String]
    }

    static let knownKeys: Set<String> = [
        "image", "build", "command", "entrypoint", "environment", "ports", "expose", "volumes", "tmpfs",
        "restart", "links", "external_links", "depends_on", "labels", "deploy", "scale", "cpus", "mem_limit",
        "mem_reservation", "healthcheck", "network_mode", "net", "stop_grace_period", "networks",
        // Host access, ruled on by the tenant's host policy (HostOptionsSyntax).
        "privileged", "cap_add", "devices", "pid", "ipc", "uts", "userns_mode", "cgroup", "device_cgroup_rules",
        "security_opt", "use_api_socket",
        // How the processes run (ProcessOptionsSyntax).
        "user", "group_add", "working_dir", "stop_signal", "read_only", "cap_drop", "pids_limit", "sysctls",
    ]

    /// Compose keys caas recognises but does not model: warned, never silently dropped.
    static let unsupportedKeys: [String: String] = {
        var out: [String: String] = [
            "env_file": "env_file is not supported by caas (templates are self-contained; use environment and deploy-time variables); ignored",
            "cpu_shares": "cpu_shares is not supported by caas (use deploy.resources or cpus); ignored",
            "container_name": "caas names containers itself; 'container_name' ignored",
            "extends": "'extends' is not supported by caas (use YAML anchors); ignored",
            "volumes_from": "'volumes_from' is not supported by caas (use named volumes); ignored",
            "volume_driver": "'volume_driver' is not supported by caas (declare the driver on a top-level volume); ignored",
        ]
        let others = [
            "develop", "annotations", "attach", "blkio_config", "cgroup_parent", "configs",
            "cpu_count", "cpu_percent", "cpu_quota", "cpu_period", "cpu_rt_period", "cpu_rt_runtime", "cpuset",
            "credential_spec", "dns", "dns_opt", "dns_search", "domainname",
            "label_file", "provider", "extra_hosts", "gpus", "hostname", "init", "isolation",
            "logging", "log_driver", "log_opt", "mac_address", "mem_swappiness", "memswap_limit", "models", "oom_kill_disable",
            "oom_score_adj", "platform", "post_start", "pre_stop", "profiles",
            "pull_policy", "pull_refresh_after", "runtime", "shm_size", "secrets",
            "stdin_open", "storage_opt", "tty", "ulimits", "dockerfile",
        ]
        for key in others where out[key] == nil {
            out[key] = "'\(key)' is not supported by caas; ignored"
        }
        return out
    }()

    func read(name: String, node: YNode) -> Output? {
        guard let entries = reader.mapping(node, what: "a service definition (a mapping)") else { return nil }
        reader.checkKeys(entries, known: Self.knownKeys, unsupported: Self.unsupportedKeys, context: "service '\(name)'")
        UndeliveredKeys.warn(entries, UndeliveredKeys.service, log: log)
        var spec = ServiceSpec(name: name, image: "")
        var edges: [(target: String, node: YNode)] = []
        var passthrough: [VariableReference] = []
        var implicitVolumes: [String] = []

        // Image, or why there is none.
        if let n = node["image"], let image = reader.string(n, what: "an image reference") {
            if image.trimmingSpaces.isEmpty || image.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
                log.error(n, "'\(image)' is not an image reference")
            }
            spec.image = image.trimmingSpaces
            if let b = entries.last(where: { $0.key == "build" }) {
                log.warning(key: b, "caas deploys images; 'build' is ignored and '\(spec.image)' is pulled")
            }
        } else if node["image"] == nil {
            if let b = entries.last(where: { $0.key == "build" }) {
                log.error(key: b, "service '\(name)' only has 'build': caas deploys images, not build contexts; build and push the image, then name it in 'image'")
            } else {
                log.error(node, "service '\(name)' has neither 'image' nor 'build'")
            }
        }

        if let n = node["command"] { spec.command = readCommand(n) }
        if let n = node["entrypoint"] { spec.entrypoint = readCommand(n) }

        if let n = node["environment"] {
            let env = readEnvironment(n)
            spec.environment = env.variables
            spec.placement.constraints += env.constraints
            passthrough = env.passthrough
        }
        if let n = node["ports"] { spec.ports = readPorts(n) }
        if let n = node["expose"] { spec.expose = readExpose(n) }
        if let n = node["volumes"] {
            spec.volumes = readVolumes(n)
            if context.isVersion1 {
                implicitVolumes = spec.volumes.filter { $0.kind == .volume && !context.declaredVolumes.contains($0.source ?? "") }.compactMap(\.source)
            }
        }
        if let n = node["tmpfs"] { spec.volumes += readTmpfs(n) }

        var restartNode: YNode? = nil
        if let n = node["restart"], let optional = reader.optionalString(n) {
            let text = optional ?? "no"
            if let policy = RestartSyntax.parse(text) {
                spec.restart = policy
                restartNode = n
            } else {
                log.error(n, "unknown restart policy '\(text)' (expected no, always, on-failure[:N] or unless-stopped)")
            }
        }

        if let entry = entries.last(where: { $0.key == "networks" }) { spec.networkAliases = readNetworks(entry) }
        if let n = node["links"] { spec.links = readLinks(n, isInternal: true, edges: &edges) }
        if let n = node["external_links"] { spec.externalLinks = readLinks(n, isInternal: false, edges: &edges) }
        if let n = node["depends_on"] { spec.dependsOn = readDependsOn(n, edges: &edges) }

        // Labels first, so extension labels can be read from service and deploy labels alike.
        var labelPairs: [(key: String, value: String?, node: YNode)] = []
        if let n = node["labels"] { labelPairs = reader.keyValues(n, what: "label") ?? [] }

        var deploy = DeployOutput()
        if let n = node["deploy"] { deploy = readDeploy(n) }
        let serviceLabelKeys = Set(labelPairs.map(\.key))
        labelPairs += deploy.labels.filter { !serviceLabelKeys.contains($0.key) }
        for (key, value, item) in labelPairs {
            if key.trimmingSpaces.isEmpty { log.error(item, "a label needs a name"); continue }
            spec.labels[key] = value ?? ""
        }
        let extensions = LabelExtensions.read(labelPairs, log: log)

        // Replicas: deploy.replicas, scale (v2) and the scale label must agree.
        var replicaSources: [(Int, YNode, String)] = []
        if let (v, n) = deploy.replicas { replicaSources.append((v, n, "deploy.replicas")) }
        if let n = node["scale"], let v = reader.int(n, what: "a replica count", in: SpecBounds.replicas) { replicaSources.append((v, n, "scale")) }
        if let (v, n) = extensions.replicas { replicaSources.append((v, n, "the scale label")) }
        if let first = replicaSources.first {
            spec.replicas = first.0
            for other in replicaSources.dropFirst() where other.0 != first.0 {
                log.error(other.1, "\(other.2) (\(other.0)) contradicts \(first.2) (\(first.0)) at line \(first.1.line)")
            }
        }

        if let (mode, _) = deploy.mode { spec.mode = mode }
        if let (global, n) = extensions.global {
            if let (mode, modeNode) = deploy.mode, (mode == .global) != global {
                log.error(n, "the global label contradicts deploy.mode '\(mode.rawValue)' at line \(modeNode.line)")
            }
            if global { spec.mode = .global }
        }
        if spec.mode == .global, let first = replicaSources.first {
            log.warning(first.1, "a global service runs one container per eligible node; \(first.2) is ignored")
        }

        // Resources: deploy.resources, else the v2 keys.
        spec.resources = ResourceRequirements(limits: deploy.limits, reservations: deploy.reservations)
        if let n = node["cpus"], let v = readCPUs(n) {
            mergeLegacy(&spec.resources.limits.cpus, v, node: n, key: "cpus", deployKey: "deploy.resources.limits.cpus")
        }
        if let n = node["mem_limit"], let v = readMemory(n) {
            mergeLegacy(&spec.resources.limits.memoryBytes, v, node: n, key: "mem_limit", deployKey: "deploy.resources.limits.memory")
        }
        if let n = node["mem_reservation"], let v = readMemory(n) {
            mergeLegacy(&spec.resources.reservations.memoryBytes, v, node: n, key: "mem_reservation", deployKey: "deploy.resources.reservations.memory")
        }
        checkResources(spec.resources, node: node["deploy"]?["resources"] ?? node)

        // Placement: deploy.placement plus environment constraints.
        spec.placement.constraints = deploy.placement.constraints + spec.placement.constraints
        spec.placement.spreadOver = deploy.placement.spreadOver
        spec.placement.maxPerNode = deploy.placement.maxPerNode

        if let c = deploy.updateConfig { spec.updateConfig = c }
        if let c = deploy.rollbackConfig { spec.rollbackConfig = c }
        if let (policy, n) = deploy.restart {
            if let restartNode, spec.restart != policy {
                log.warning(n, "deploy.restart_policy overrides 'restart' at line \(restartNode.line)")
            }
            spec.restart = policy
        }

        if let n = node["healthcheck"] { spec.healthcheck = readHealthcheck(n) }
        if let n = node["network_mode"] ?? node["net"] { spec.networkMode = readNetworkMode(n, service: name, edges: &edges) }
        // A service runs on the node's network unless it asks for bridge or none (caas's default
        // today), written or not: that is what the host policy rules on.
        if !["bridge", "none"].contains(spec.networkMode ?? "host") {
            log.declare(.hostNetwork, at: node["network_mode"] ?? node["net"] ?? node)
        }
        if let n = node["stop_grace_period"], let v = reader.duration(n) { spec.stopGracePeriodSeconds = v }
        spec.host = readHostOptions(node)
        spec.process = readProcessOptions(node, networkMode: spec.networkMode, ipc: spec.host?.ipc)

        // Extension fields.
        spec.routes = extensions.routes
        spec.probe = extensions.probe
        spec.autoScaling = extensions.autoScaling
        spec.logStores = extensions.logStores
        for (dependency, n) in extensions.depends {
            guard checkServiceReference(dependency, at: n, what: "depends on") else { continue }
            if context.containerServices.contains(dependency) { edges.append((dependency, n)) }
            if !spec.dependsOn.contains(where: { $0.service == dependency }) {
                spec.dependsOn.append(ServiceDependency(service: dependency))
            }
        }
        if let policy = spec.autoScaling, spec.mode == .replicated, let source = replicaSources.first,
           !(policy.minInstances...policy.maxInstances).contains(spec.replicas) {
            log.warning(source.1, "\(spec.replicas) replicas is outside the auto-scaling range \(policy.minInstances)…\(policy.maxInstances)")
        }

        return Output(spec: spec, edges: edges, passthrough: passthrough, implicitVolumes: implicitVolumes)
    }

    private func mergeLegacy<T: Equatable>(_ field: inout T?, _ value: T, node: YNode, key: String, deployKey: String) {
        if let existing = field {
            if existing != value { log.warning(node, "'\(key)' differs from \(deployKey), which wins") }
        } else {
            field = value
        }
    }

    private func checkResources(_ r: ResourceRequirements, node: YNode) {
        if let limit = r.limits.cpus, let reservation = r.reservations.cpus, reservation > limit {
            log.error(node, "the CPU reservation (\(reservation.compact)) exceeds the CPU limit (\(limit.compact))")
        }
        if let limit = r.limits.memoryBytes, let reservation = r.reservations.memoryBytes, reservation > limit {
            log.error(node, "the memory reservation (\(reservation) bytes) exceeds the memory limit (\(limit) bytes)")
        }
    }

    /// `command` / `entrypoint`: a string split like a shell would (quotes honoured), or a list; null keeps the image's.
    func readCommand(_ node: YNode) -> [String]? {
        if let scalar = node.scalar {
            if scalar.isNull { return nil }
            do {
                return try ShellWords.split(scalar.text)
            } catch {
                log.error(node, "unterminated \(error.quote) quote in '\(scalar.text)'")
                return nil
            }
        }
        guard let words = reader.strings(node, allowSingle: true) else { return nil }
        return words.map(\.0)
    }

    /// `service[:alias]`. Internal links must name a service of this application.
    func readLinks(_ node: YNode, isInternal: Bool, edges: inout [(target: String, node: YNode)]) -> [ServiceLink] {
        guard let items = reader.strings(node) else { return [] }
        var out: [ServiceLink] = []
        for (text, item) in items {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
            guard parts.count <= 2, !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
                log.error(item, "'\(text)' is not a link: expected SERVICE or SERVICE:ALIAS")
                continue
            }
            if isInternal {
                guard checkServiceReference(parts[0], at: item, what: "links to") else { continue }
                if context.containerServices.contains(parts[0]) { edges.append((parts[0], item)) }
            }
            out.append(ServiceLink(target: parts[0], alias: parts.count == 2 ? parts[1] : nil))
        }
        return out
    }

    /// A service's `networks`, a list of names or a mapping of name → settings: caas gives an
    /// application one network, so only the `aliases` count (more names of the service, resolved
    /// by the nodes' name servers); the rest is said once at the key and ignored.
    func readNetworks(_ entry: YEntry) -> [String]? {
        log.warning(key: entry, "caas gives each application one network that all its services share; 'networks' names no separate network (only its 'aliases' are used)")
        guard let networks = entry.value.entries else {
            if entry.value.items == nil, !entry.value.isNull { log.error(entry.value, "expected a list of network names or a mapping, found \(entry.value.kindName)") }
            return nil
        }
        var aliases: [String] = []
        for network in networks {
            guard let settings = network.value.entries else {
                if !network.value.isNull { log.error(network.value, "expected the network's settings (a mapping), found \(network.value.kindName)") }
                continue
            }
            guard let n = settings.first(where: { $0.key == "aliases" })?.value, let names = reader.strings(n) else { continue }
            for (alias, item) in names {
                if let problem = ServiceName.aliasProblem(alias) {
                    log.error(item, problem)
                    continue
                }
                if !aliases.contains(alias) { aliases.append(alias) }
            }
        }
        return aliases.isEmpty ? nil : aliases
    }

    /// `depends_on` as a list of names or a mapping of name → `{condition, restart, required}`.
    func readDependsOn(_ node: YNode, edges: inout [(target: String, node: YNode)]) -> [ServiceDependency] {
        var out: [ServiceDependency] = []
        func add(_ name: String, _ condition: ServiceDependency.Condition, _ at: YNode) {
            guard checkServiceReference(name, at: at, what: "depends on") else { return }
            if context.containerServices.contains(name) { edges.append((name, at)) }
            if out.contains(where: { $0.service == name }) {
                log.warning(at, "'\(name)' is listed twice in depends_on")
                return
            }
            out.append(ServiceDependency(service: name, condition: condition))
        }
        if let entries = node.entries {
            for entry in entries {
                var condition = ServiceDependency.Condition.serviceStarted
                if let settings = entry.value.entries {
                    reader.checkKeys(settings, known: ["condition", "restart", "required"], context: "depends_on.\(entry.key)")
                    if let n = entry.value["condition"], let text = reader.string(n) {
                        guard let c = ServiceDependency.Condition(rawValue: text) else {
                            log.error(n, "unknown dependency condition '\(text)' (expected service_started, service_healthy or service_completed_successfully)")
                            continue
                        }
                        condition = c
                    }
                    if let n = entry.value["restart"] { _ = reader.bool(n) }
                    if let n = entry.value["required"] { _ = reader.bool(n) }
                } else if !entry.value.isNull {
                    log.error(entry.value, "expected a mapping with 'condition', found \(entry.value.kindName)")
                    continue
                }
                var at = entry.value
                at.line = entry.keyLine
                at.column = entry.keyColumn
                add(entry.key, condition, at)
            }
            return out
        }
        guard let items = reader.strings(node) else { return [] }
        for (name, item) in items { add(name, .serviceStarted, item) }
        return out
    }

    /// `bridge`, `host`, `none`, or `service:NAME` (which must exist, and is a dependency).
    func readNetworkMode(_ node: YNode, service: String, edges: inout [(target: String, node: YNode)]) -> String? {
        guard let text = reader.string(node) else { return nil }
        if text.hasPrefix("service:") {
            let target = String(text.dropFirst("service:".count))
            if checkServiceReference(target, at: node, what: "shares the network of"), context.containerServices.contains(target) {
                edges.append((target, node))
            }
        } else if text.hasPrefix("container:") {
            log.error(node, "network_mode '\(text)' names a container; caas manages containers itself (use service:NAME)")
            return nil
        }
        return text
    }

    /// A name used in links, depends_on, network_mode or depends labels must be a service of the application.
    func checkServiceReference(_ name: String, at node: YNode, what: String) -> Bool {
        if context.containerServices.contains(name) || context.externalServices.contains(name) { return true }
        log.error(node, "\(what) unknown service '\(name)'")
        return false
    }
}
