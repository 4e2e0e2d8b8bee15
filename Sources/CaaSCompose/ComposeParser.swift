import CaaSModel
import Yams

/// Compose text → `AppSpec`. Pure: no I/O, no clock, no environment; the same text and variables
/// always give the same result.
///
/// Accepted formats: compose v1 (services at the top level), v2.x, v3.x and the Compose
/// Specification (with or without `version:`, with `name:`). Every problem is reported at once,
/// with its path and position; the spec is `nil` when any of them is an error. Unknown keys are
/// warnings, `x-` extensions are ignored, wrong types are errors.
///
/// Decisions worth knowing:
/// - Variables: interpolation applies to scalar values after YAML parsing, never to keys. A missing
///   plain `${X}` is a warning and becomes empty (as docker-compose does); a missing `${X:?}` /
///   `${X?}` is an error; bad syntax is an error. A bare `KEY` in `environment` takes the deploy-time
///   variable `KEY` when given and is otherwise unset (`value == nil`), with no warning.
/// - Service names: compose's charset, and also a DNS label (`[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`),
///   since services are reached by name. See `ServiceName`.
/// - Extension labels (`aliyun.*`, `caas.*`) become fields and also stay in `labels` as written.
///   `deploy.labels` are merged into `labels` (service labels win on the same key).
/// - Replica counts from `deploy.replicas`, `scale:` and the scale label must agree.
/// - `deploy.restart_policy` overrides `restart:` (warned when they differ); `deploy.resources`
///   overrides the v2 `cpus` / `mem_limit` / `mem_reservation` (warned when they differ).
/// - A published port range must have as many ports as its target range (docker's "any port of
///   this host range" form is rejected).
/// - Named volumes must be declared at the top level, except in compose v1, where they are
///   declared implicitly (v1 had no top-level `volumes`).
/// - Swarm-classic placement in `environment` (`constraint:`, `availability:`) becomes
///   `placement.constraints` and is not passed to the container; `affinity:` and soft constraints
///   are dropped with a warning.
/// - `external:` services become `AppSpec.externalServices`; links and dependencies may name them.
/// - Durations accept Go-style units (`1m30s`, `500ms`) or a bare number of seconds; byte sizes
///   use binary multiples (`1g` = 2³⁰ bytes).
/// - Hostile input: see `ComposeLimits`. Aliases used as mapping keys and explicit `?` keys are
///   rejected before YAML parsing.
public enum ComposeParser {
    public static func parse(_ text: String, variables: [String: String] = [:], limits: ComposeLimits = .standard) -> ComposeResult {
        let log = DiagnosticLog()
        var run = ParseRun(log: log, variables: variables, limits: limits)
        let spec = run.parse(text)
        var references = run.references
        references.sort { ($0.line ?? .max, $0.column ?? 0) < ($1.line ?? .max, $1.column ?? 0) }
        return ComposeResult(spec: log.hasErrors ? nil : spec, diagnostics: log.sorted(), variables: references, missingVariables: run.missing,
                             hostAccess: log.hostAccess)
    }
}

/// One parse: the state shared by its stages.
struct ParseRun {
    let log: DiagnosticLog
    let variables: [String: String]
    let limits: ComposeLimits
    var references: [VariableReference] = []
    var missing: [String] = []

    init(log: DiagnosticLog, variables: [String: String], limits: ComposeLimits) {
        self.log = log
        self.variables = variables
        self.limits = limits
    }

    static let topLevelKeys: Set<String> = ["version", "name", "services", "volumes"]

    mutating func parse(_ text: String) -> AppSpec? {
        if let finding = InputScreen(limits: limits).screen(text) {
            log.add(.error, path: "", line: finding.line, column: finding.column, finding.message)
            return nil
        }
        let yaml: Node
        do {
            guard let root = try Yams.compose(yaml: text) else {
                log.add(.error, path: "", line: 1, column: 1, "the compose text is empty")
                return nil
            }
            yaml = root
        } catch {
            log.add(.error, path: "", line: YAMLErrors.position(error).line, column: YAMLErrors.position(error).column, YAMLErrors.message(error))
            return nil
        }
        var builder = TreeBuilder(limits: limits, variables: variables, log: log)
        let root: YNode
        do {
            root = try builder.build(yaml)
        } catch {
            return nil
        }
        references = builder.references
        missing = builder.missing
        return readDocument(root)
    }

    mutating func readDocument(_ root: YNode) -> AppSpec? {
        let reader = ValueReader(log: log)
        guard let top = root.entries else {
            log.error(root, "a compose file is a mapping (with 'services'), found \(root.kindName)")
            return nil
        }
        var spec = AppSpec()

        // Which format?
        let hasServices = root["services"] != nil
        let versionEntry = root.entry("version")
        var isVersion1 = false
        if let versionEntry {
            checkVersion(versionEntry.value, reader: reader)
        }
        if !hasServices {
            let specOnly = top.contains { ["volumes", "networks", "secrets", "configs", "name", "include"].contains($0.key) }
            if versionEntry != nil || specOnly || top.isEmpty {
                log.error(root, "the compose file has no 'services'")
                return nil
            }
            isVersion1 = true
        }

        var serviceEntries: [YEntry]
        if isVersion1 {
            serviceEntries = top.filter { !$0.key.hasPrefix("x-") }
        } else {
            reader.checkKeys(top, known: Self.topLevelKeys, unsupported: [
                "networks": "caas gives each application one network; top-level 'networks' ignored",
                "secrets": "top-level 'secrets' are not supported by caas; ignored",
                "configs": "top-level 'configs' are not supported by caas; ignored",
                "include": "'include' is not supported by caas (a template is one file); ignored",
                "models": "'models' are not supported by caas; ignored",
            ], context: "the compose file")
            let servicesNode = root["services"]!
            if servicesNode.isNull {
                serviceEntries = []
            } else {
                guard let entries = reader.mapping(servicesNode, what: "a mapping of service names") else { return nil }
                serviceEntries = entries.filter { !$0.key.hasPrefix("x-") }
            }
            if serviceEntries.isEmpty {
                log.error(servicesNode, "'services' defines no service")
            }
            if let n = root["name"], let name = reader.string(n) {
                if Self.isProjectName(name) { spec.name = name } else {
                    log.error(n, "'\(name)' is not a project name (lowercase letters, digits, '_' and '-', starting with a letter or digit)")
                }
            }
            if let n = root["volumes"] { spec.volumes = TopLevelVolumes.read(n, reader: reader, log: log) }
        }

        if serviceEntries.count > limits.maxServices {
            let at = isVersion1 ? root : root["services"]!
            log.error(at, "\(serviceEntries.count) services is more than the limit of \(limits.maxServices)")
            return nil
        }

        // Names first: every reference is checked against them.
        var containerNames: [String] = []
        var externalNames = Set<String>()
        for entry in serviceEntries {
            if let problem = ServiceName.problem(entry.key) {
                log.error(key: entry, problem)
            }
            if entry.value["external"] != nil { externalNames.insert(entry.key) } else { containerNames.append(entry.key) }
        }

        let context = ServiceContext(
            containerServices: Set(containerNames),
            externalServices: externalNames,
            declaredVolumes: Set(spec.volumes.map(\.name)),
            isVersion1: isVersion1)
        let serviceReader = ServiceReader(log: log, reader: reader, context: context, variables: variables)
        var edges: [String: [String]] = [:]
        var edgeNodes: [String: [String: YNode]] = [:]
        for entry in serviceEntries {
            if let external = entry.value["external"] {
                if let service = serviceReader.readExternal(name: entry.key, node: entry.value, external: external) {
                    spec.externalServices.append(service)
                }
                continue
            }
            guard let output = serviceReader.read(name: entry.key, node: entry.value) else { continue }
            spec.services.append(output.spec)
            references += output.passthrough
            for volume in output.implicitVolumes where !spec.volumes.contains(where: { $0.name == volume }) {
                spec.volumes.append(VolumeSpec(name: volume))
            }
            for (target, node) in output.edges {
                edges[entry.key, default: []].append(target)
                if edgeNodes[entry.key, default: [:]][target] == nil { edgeNodes[entry.key, default: [:]][target] = node }
            }
        }

        for cycle in DependencyCycles.find(order: containerNames, edges: edges) {
            let from = cycle.path[0], to = cycle.path[1]
            let message = "dependency cycle: \(cycle.description)"
            if let node = edgeNodes[from]?[to] {
                log.add(.error, path: node.path, line: node.line, column: node.column, message)
            } else {
                log.add(.error, path: YPath.child("services", from), line: nil, column: nil, message)
            }
        }
        return spec
    }

    private func checkVersion(_ node: YNode, reader: ValueReader) {
        guard let text = reader.string(node, what: "a version string") else { return }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let major = parts.first.map(String.init) ?? ""
        let validShape = parts.count <= 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        if validShape && (major == "2" || major == "3") { return }
        if validShape && major == "1" {
            log.error(node, "compose version 1 has no 'version' key: put the services at the top level, or use version '2' or later with 'services'")
            return
        }
        log.error(node, "unsupported compose version '\(text)' (expected 2.x or 3.x, or no version for the Compose Specification)")
    }

    static func isProjectName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLowercase || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
