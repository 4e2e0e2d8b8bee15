import CaaSModel

extension ServiceReader {
    /// What `deploy:` says; each part `nil` when not written, so other sources (`scale:`, v2
    /// resource keys, `restart:`, labels) can fill or contradict it.
    struct DeployOutput {
        var replicas: (Int, YNode)?
        var mode: (ServiceMode, YNode)?
        var limits = Resources()
        var reservations = Resources()
        var placement = Placement()
        var updateConfig: UpdateConfig?
        var rollbackConfig: UpdateConfig?
        var restart: (RestartPolicy, YNode)?
        var labels: [(key: String, value: String?, node: YNode)] = []
    }

    func readDeploy(_ node: YNode) -> DeployOutput {
        var out = DeployOutput()
        guard let entries = reader.mapping(node) else { return out }
        reader.checkKeys(entries, known: ["mode", "replicas", "resources", "placement", "update_config", "rollback_config", "restart_policy", "labels", "endpoint_mode"], context: "deploy")
        if let n = node["replicas"], let value = reader.int(n, what: "a replica count", in: SpecBounds.replicas) {
            out.replicas = (value, n)
        }
        if let n = node["mode"], let text = reader.string(n) {
            switch text {
            case "replicated": out.mode = (.replicated, n)
            case "global": out.mode = (.global, n)
            case "replicated-job", "global-job": log.error(n, "deploy mode '\(text)' is not supported by caas (expected replicated or global)")
            default: log.error(n, "unknown deploy mode '\(text)' (expected replicated or global)")
            }
        }
        if let n = node["endpoint_mode"], let text = reader.string(n), text != "vip" {
            log.warning(n, "endpoint_mode '\(text)' is not supported by caas; services are reached through their virtual address")
        }
        if let resources = node["resources"], let entries = reader.mapping(resources) {
            reader.checkKeys(entries, known: ["limits", "reservations"], context: "deploy.resources")
            if let n = resources["limits"] { out.limits = readResources(n, reservations: false) }
            if let n = resources["reservations"] { out.reservations = readResources(n, reservations: true) }
        }
        if let n = node["placement"] { out.placement = readPlacement(n) }
        if let n = node["update_config"] { out.updateConfig = readUpdateConfig(n, rollback: false) }
        if let n = node["rollback_config"] { out.rollbackConfig = readUpdateConfig(n, rollback: true) }
        if let n = node["restart_policy"] { out.restart = readRestartPolicy(n).map { ($0, n) } }
        if let n = node["labels"] { out.labels = reader.keyValues(n, what: "label") ?? [] }
        return out
    }

    func readResources(_ node: YNode, reservations: Bool) -> Resources {
        var out = Resources()
        guard let entries = reader.mapping(node) else { return out }
        let context = reservations ? "deploy.resources.reservations" : "deploy.resources.limits"
        let unsupported = reservations
            ? ["devices": "device reservations are not supported by caas; ignored", "generic_resources": "generic resources are not supported by caas; ignored"]
            : ["pids": "a pids limit is not supported by caas; ignored"]
        reader.checkKeys(entries, known: ["cpus", "memory"], unsupported: unsupported, context: context)
        if let n = node["cpus"] { out.cpus = readCPUs(n) }
        if let n = node["memory"] { out.memoryBytes = readMemory(n) }
        return out
    }

    func readCPUs(_ node: YNode) -> Double? {
        guard let value = reader.double(node, what: "a number of CPUs", in: SpecBounds.cpus) else { return nil }
        guard value > 0 else {
            log.error(node, "a number of CPUs must be more than 0")
            return nil
        }
        return value
    }

    func readMemory(_ node: YNode) -> Int64? {
        guard let bytes = reader.bytes(node) else { return nil }
        guard bytes > 0 else {
            log.error(node, "a memory size must be more than 0")
            return nil
        }
        return bytes
    }

    func readPlacement(_ node: YNode) -> Placement {
        var out = Placement()
        guard let entries = reader.mapping(node) else { return out }
        reader.checkKeys(entries, known: ["constraints", "preferences", "max_replicas_per_node"], context: "deploy.placement")
        if let n = node["constraints"], let items = reader.strings(n) {
            for (text, item) in items {
                do { out.constraints.append(try ConstraintSyntax.parseSwarmMode(text)) } catch { log.error(item, error.message) }
            }
        }
        if let n = node["preferences"], let items = reader.list(n, what: "a list of preferences") {
            for item in items {
                guard let prefs = reader.mapping(item, what: "a preference such as 'spread: node.labels.az'") else { continue }
                for pref in prefs {
                    guard pref.key == "spread" else {
                        log.error(key: pref, "unknown placement preference '\(pref.key)' (expected spread)")
                        continue
                    }
                    guard let text = reader.string(pref.value) else { continue }
                    do { out.spreadOver.append(try ConstraintSyntax.parseSpread(text)) } catch { log.error(pref.value, error.message) }
                }
            }
        }
        if let n = node["max_replicas_per_node"], let value = reader.int(n, in: 1...SpecBounds.replicas.upperBound) {
            out.maxPerNode = value
        }
        return out
    }

    func readUpdateConfig(_ node: YNode, rollback: Bool) -> UpdateConfig? {
        guard let entries = reader.mapping(node) else { return nil }
        let name = rollback ? "rollback_config" : "update_config"
        reader.checkKeys(entries, known: ["parallelism", "delay", "order", "failure_action", "monitor", "max_failure_ratio"], context: "deploy.\(name)")
        var config = UpdateConfig()
        if rollback { config.failureAction = .pause }
        if let n = node["parallelism"], let v = reader.int(n, in: SpecBounds.replicas) { config.parallelism = v }
        if let n = node["delay"], let v = reader.duration(n) { config.delaySeconds = v }
        if let n = node["monitor"], let v = reader.duration(n) { config.monitorSeconds = v }
        if let n = node["max_failure_ratio"], let v = reader.double(n, what: "a ratio", in: 0...1) { config.maxFailureRatio = v }
        if let n = node["order"], let text = reader.string(n) {
            if let order = UpdateConfig.Order(rawValue: text) { config.order = order } else { log.error(n, "unknown update order '\(text)' (expected stop-first or start-first)") }
        }
        if let n = node["failure_action"], let text = reader.string(n) {
            if let action = UpdateConfig.FailureAction(rawValue: text), !(rollback && action == .rollback) {
                config.failureAction = action
            } else {
                log.error(n, "unknown failure action '\(text)' (expected \(rollback ? "pause or continue" : "pause, continue or rollback"))")
            }
        }
        return config
    }

    /// `deploy.restart_policy`: `condition: none | on-failure | any`, `max_attempts`; `delay` and
    /// `window` are accepted but not modelled.
    func readRestartPolicy(_ node: YNode) -> RestartPolicy? {
        guard let entries = reader.mapping(node) else { return nil }
        reader.checkKeys(entries, known: ["condition", "max_attempts", "delay", "window"], context: "deploy.restart_policy")
        UndeliveredKeys.warn(entries, UndeliveredKeys.restartPolicy, log: log)
        var maxAttempts: Int? = nil
        if let n = node["max_attempts"], let v = reader.int(n, in: 0...1_000_000) { maxAttempts = v }
        if let n = node["delay"] { _ = reader.duration(n) }
        if let n = node["window"] { _ = reader.duration(n) }
        var condition = "any"
        if let n = node["condition"] {
            guard let text = reader.string(n) else { return nil }
            condition = text
            if !["none", "on-failure", "any"].contains(text) {
                log.error(n, "unknown restart condition '\(text)' (expected none, on-failure or any)")
                return nil
            }
        }
        switch condition {
        case "none": return .no
        case "on-failure": return .onFailure(maximumRetries: maxAttempts)
        default:
            if maxAttempts != nil, let n = node["max_attempts"] {
                log.warning(n, "max_attempts only applies to condition on-failure; ignored")
            }
            return .always
        }
    }
}
