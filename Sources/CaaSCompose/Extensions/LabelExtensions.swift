import Foundation
import CaaSModel

/// The original product's label extensions, read as first-class fields. Each is written under
/// `aliyun.` (as the talk's templates do) or under the neutral `caas.` prefix; both mean the same,
/// and both may not disagree. The labels themselves stay in `ServiceSpec.labels` as written, so a
/// container still carries what its template said.
///
/// | label (after the prefix) | field |
/// | --- | --- |
/// | `scale: N` | `replicas` |
/// | `global: true` | `mode = .global` |
/// | `routing.port_N: host1;http://host2/path` | `routes` |
/// | `probe.url: http://container[:port][/path]` or `tcp://container:port` | `probe` (HTTP port 80 by default) |
/// | `probe.cmd: "…"` | `probe` (a command run in the container) |
/// | `probe.initial_delay_seconds`, `probe.timeout_seconds`, `probe.interval_seconds`, `probe.failure_threshold` | `probe` timing |
/// | `auto_scaling.max_cpu`, `min_cpu`, `step`, `max_instances`, `min_instances` | `autoScaling` |
/// | `log_store_NAME: stdout` or an absolute path | `logStores` |
/// | `depends: a,b` | merged into `dependsOn` |
struct LabelExtensions {
    static let prefixes = ["aliyun.", "caas."]

    var replicas: (Int, YNode)?
    var global: (Bool, YNode)?
    var routes: [Route] = []
    var probe: Probe?
    var autoScaling: AutoScalingPolicy?
    var logStores: [LogStore] = []
    var depends: [(String, YNode)] = []

    /// Reads the extension labels among `labels` (key, value, node), logging every problem at its label.
    static func read(_ labels: [(key: String, value: String?, node: YNode)], log: DiagnosticLog) -> LabelExtensions {
        var out = LabelExtensions()
        // Normalised key (without prefix) → first occurrence; aliyun.X and caas.X must agree.
        var seen: [String: (String, YNode)] = [:]
        var probeParts: [String: (String, YNode)] = [:]
        var scaling: [String: (String, YNode)] = [:]

        for label in labels {
            guard let prefix = prefixes.first(where: { label.key.hasPrefix($0) }) else { continue }
            let key = String(label.key.dropFirst(prefix.count))
            let value = (label.value ?? "").trimmingSpaces
            let node = label.node
            if let earlier = seen[key] {
                if earlier.0 != value {
                    log.error(node, "'\(label.key)' conflicts with the label given at line \(earlier.1.line) ('\(earlier.0)')")
                }
                continue
            }
            seen[key] = (value, node)

            switch key {
            case "scale":
                if let n = Int(value), SpecBounds.replicas.contains(n) { out.replicas = (n, node) } else {
                    log.error(node, "'\(label.key)' must be a replica count from 0 to \(SpecBounds.replicas.upperBound), found '\(value)'")
                }
            case "global":
                if ValueReader.trueWords.contains(value) { out.global = (true, node) }
                else if ValueReader.falseWords.contains(value) { out.global = (false, node) }
                else { log.error(node, "'\(label.key)' must be true or false, found '\(value)'") }
            case "depends":
                for name in value.split(separator: ",").map({ String($0).trimmingSpaces }) where !name.isEmpty {
                    out.depends.append((name, node))
                }
            case _ where key.hasPrefix("routing.port_"):
                out.routes += readRoutes(portText: String(key.dropFirst("routing.port_".count)), value: value, label: label.key, node: node, log: log)
            case _ where key.hasPrefix("probe."):
                probeParts[String(key.dropFirst("probe.".count))] = (value, node)
            case _ where key.hasPrefix("auto_scaling."):
                scaling[String(key.dropFirst("auto_scaling.".count))] = (value, node)
            case _ where key.hasPrefix("log_store_"):
                let name = String(key.dropFirst("log_store_".count))
                if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                    log.error(node, "'\(label.key)': a log store name is letters, digits, '_' and '-'")
                } else if value != "stdout" && !value.hasPrefix("/") {
                    log.error(node, "'\(label.key)' must be 'stdout' or an absolute path inside the container, found '\(value)'")
                } else {
                    out.logStores.append(LogStore(name: name, source: value))
                }
            default:
                log.warning(node, "unknown extension label '\(label.key)'; kept as a plain label")
            }
        }
        out.probe = readProbe(probeParts, log: log)
        out.autoScaling = readAutoScaling(scaling, log: log)
        return out
    }

    // MARK: - Routing

    static func readRoutes(portText: String, value: String, label: String, node: YNode, log: DiagnosticLog) -> [Route] {
        guard let port = Int(portText), PortSyntax.validPorts.contains(port) else {
            log.error(node, "'\(label)': '\(portText)' is not a container port (1…65535)")
            return []
        }
        var routes: [Route] = []
        let items = value.split(separator: ";").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        if items.isEmpty {
            log.error(node, "'\(label)' names no virtual host")
        }
        for item in items {
            do {
                routes.append(try parseRoute(item, port: port))
            } catch {
                log.error(node, "'\(label)': \(error.message)")
            }
        }
        return routes
    }

    struct Failure: Error { var message: String }

    /// `restserver.local`, `http://wordpress`, `https://shop.example/api`, `*.company.com`.
    static func parseRoute(_ text: String, port: Int) throws(Failure) -> Route {
        var rest = Substring(text)
        var scheme: String? = nil
        if let range = rest.range(of: "://") {
            let s = rest[..<range.lowerBound].lowercased()
            guard s == "http" || s == "https" else { throw Failure(message: "unsupported scheme '\(s)' in '\(text)' (expected http or https)") }
            scheme = s
            rest = rest[range.upperBound...]
        }
        var path: String? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        let host = rest.lowercased()
        if host.contains(":") {
            throw Failure(message: "'\(text)': a route names a host, not a port (the container port is in the label name)")
        }
        guard isHostName(host, allowWildcard: true) else {
            throw Failure(message: "'\(text)': '\(host)' is not a host name")
        }
        return Route(containerPort: port, host: host, scheme: scheme, path: path == "/" ? nil : path)
    }

    static func isHostName(_ host: String, allowWildcard: Bool) -> Bool {
        var labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if allowWildcard, labels.first == "*", labels.count > 1 { labels.removeFirst() }
        guard !host.isEmpty, host.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    // MARK: - Probe

    static func readProbe(_ parts: [String: (String, YNode)], log: DiagnosticLog) -> Probe? {
        guard !parts.isEmpty else { return nil }
        var check: Probe.Check? = nil
        var failed = false
        let url = parts["url"], cmd = parts["cmd"]
        if let url, let cmd {
            log.error(cmd.1, "a probe is either 'probe.url' or 'probe.cmd', not both (url given at line \(url.1.line))")
            failed = true
        } else if let (text, node) = url {
            do { check = try parseProbeURL(text) } catch { log.error(node, error.message); failed = true }
        } else if let (text, node) = cmd {
            do {
                let words = try ShellWords.split(text)
                if words.isEmpty { log.error(node, "'probe.cmd' is empty"); failed = true } else { check = .command(words) }
            } catch {
                log.error(node, "'probe.cmd' has an unterminated \(error.quote) quote")
                failed = true
            }
        }
        var probe = Probe(check: check ?? .tcp(port: 0))
        for (key, (value, node)) in parts.sorted(by: { $0.value.1.line < $1.value.1.line }) {
            switch key {
            case "url", "cmd":
                continue
            case "initial_delay_seconds", "timeout_seconds", "interval_seconds":
                guard let seconds = Double(value), SpecBounds.durationSeconds.contains(seconds) else {
                    log.error(node, "'probe.\(key)' must be a number of seconds from 0 to \(Int(SpecBounds.durationSeconds.upperBound)), found '\(value)'")
                    failed = true
                    continue
                }
                if key == "initial_delay_seconds" { probe.initialDelaySeconds = seconds }
                if key == "timeout_seconds" {
                    if seconds == 0 { log.error(node, "'probe.timeout_seconds' must be more than 0"); failed = true }
                    probe.timeoutSeconds = seconds
                }
                if key == "interval_seconds" {
                    if seconds == 0 { log.error(node, "'probe.interval_seconds' must be more than 0"); failed = true }
                    probe.intervalSeconds = seconds
                }
            case "failure_threshold":
                guard let n = Int(value), (1...1_000_000).contains(n) else {
                    log.error(node, "'probe.failure_threshold' must be an integer from 1 to 1000000, found '\(value)'")
                    failed = true
                    continue
                }
                probe.failureThreshold = n
            default:
                log.warning(node, "unknown probe setting 'probe.\(key)'; ignored")
            }
        }
        if check == nil && url == nil && cmd == nil {
            let first = parts.values.min { $0.1.line < $1.1.line }!.1
            log.error(first, "probe settings need 'probe.url' or 'probe.cmd'")
            return nil
        }
        return failed ? nil : probe
    }

    /// `http://container[:port][/path]` (port 80 by default) or `tcp://container:port`.
    static func parseProbeURL(_ text: String) throws(Failure) -> Probe.Check {
        guard let schemeEnd = text.range(of: "://") else {
            throw Failure(message: "probe URL '\(text)' must be http://container[:port][/path] or tcp://container:port")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(text[schemeEnd.upperBound...])
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        let hostPort = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(hostPort[0])
        guard host == "container" else {
            throw Failure(message: "probe URL '\(text)' must name the host 'container' (the probe runs against each container), found '\(host)'")
        }
        var port: Int? = nil
        if hostPort.count == 2 {
            guard let p = Int(hostPort[1]), PortSyntax.validPorts.contains(p) else {
                throw Failure(message: "probe URL '\(text)': '\(hostPort[1])' is not a port (1…65535)")
            }
            port = p
        }
        switch scheme {
        case "http":
            return .http(port: port ?? 80, path: path)
        case "tcp":
            guard let port else { throw Failure(message: "probe URL '\(text)': a tcp probe needs a port (tcp://container:PORT)") }
            if path != "/" { throw Failure(message: "probe URL '\(text)': a tcp probe has no path") }
            return .tcp(port: port)
        default:
            throw Failure(message: "probe URL '\(text)': unsupported scheme '\(scheme)' (expected http or tcp)")
        }
    }

    // MARK: - Auto-scaling

    static func readAutoScaling(_ parts: [String: (String, YNode)], log: DiagnosticLog) -> AutoScalingPolicy? {
        guard !parts.isEmpty else { return nil }
        var policy = AutoScalingPolicy()
        var failed = false
        for (key, (value, node)) in parts.sorted(by: { $0.value.1.line < $1.value.1.line }) {
            switch key {
            case "max_cpu", "min_cpu":
                guard let percent = Double(value), percent > 0, percent <= 100 else {
                    log.error(node, "'auto_scaling.\(key)' must be a percentage in (0, 100], found '\(value)'")
                    failed = true
                    continue
                }
                if key == "max_cpu" { policy.maxCPU = percent } else { policy.minCPU = percent }
            case "step", "max_instances", "min_instances":
                guard let n = Int(value), n >= (key == "min_instances" ? 0 : 1), n <= SpecBounds.replicas.upperBound else {
                    log.error(node, "'auto_scaling.\(key)' must be an integer from \(key == "min_instances" ? 0 : 1) to \(SpecBounds.replicas.upperBound), found '\(value)'")
                    failed = true
                    continue
                }
                if key == "step" { policy.step = n }
                if key == "max_instances" { policy.maxInstances = n }
                if key == "min_instances" { policy.minInstances = n }
            default:
                log.warning(node, "unknown auto-scaling setting 'auto_scaling.\(key)'; ignored")
            }
        }
        guard !failed else { return nil }
        let anchor = parts.values.min { $0.1.line < $1.1.line }!.1
        if policy.maxCPU == nil && policy.minCPU == nil {
            log.error(anchor, "auto-scaling needs 'auto_scaling.max_cpu' or 'auto_scaling.min_cpu'")
            return nil
        }
        if let max = policy.maxCPU, let min = policy.minCPU, min >= max {
            log.error(parts["min_cpu"]!.1, "'auto_scaling.min_cpu' (\(min.compact)) must be below 'auto_scaling.max_cpu' (\(max.compact))")
            return nil
        }
        if policy.minInstances > policy.maxInstances {
            log.error((parts["min_instances"] ?? parts["max_instances"])!.1, "'auto_scaling.min_instances' (\(policy.minInstances)) exceeds 'auto_scaling.max_instances' (\(policy.maxInstances))")
            return nil
        }
        return policy
    }
}
