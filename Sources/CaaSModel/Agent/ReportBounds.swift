/// What an agent may report: every number within `SpecBounds`. A report or heartbeat with a
/// number outside is refused whole (400 naming the field), before anything of it is stored.
extension NodeObservation {
    /// The first field out of range, as `nodes[i].cpus: … is out of range (…)`; nil when none.
    func outOfRange(at index: Int) -> String? {
        let at = "nodes[\(index)]"
        if let cpus, !SpecBounds.cpus.contains(Double(cpus)) { return "\(at).cpus: \(cpus) is out of range (0…\(Int(SpecBounds.cpus.upperBound)))" }
        if let memoryBytes, !SpecBounds.memoryBytes.contains(memoryBytes) {
            return "\(at).memory_bytes: \(memoryBytes) is out of range (0…\(SpecBounds.memoryBytes.upperBound))"
        }
        return nil
    }
}

extension ContainerObservation {
    func outOfRange(at index: Int) -> String? {
        let at = "containers[\(index)]"
        if let exitCode, !SpecBounds.exitCode.contains(exitCode) { return "\(at).exit_code: \(exitCode) is out of range" }
        if !SpecBounds.restartCount.contains(restartCount) { return "\(at).restart_count: \(restartCount) is out of range" }
        if let cpuPercent, !SpecBounds.cpuPercent.contains(cpuPercent) { return "\(at).cpu_percent: \(cpuPercent) is out of range" }
        if let memoryBytes, !SpecBounds.memoryBytes.contains(memoryBytes) { return "\(at).memory_bytes: \(memoryBytes) is out of range" }
        if let memoryLimitBytes, memoryLimitBytes < 0 { return "\(at).memory_limit_bytes: \(memoryLimitBytes) is negative" }
        for (p, port) in (ports ?? []).enumerated() where !(0...65535).contains(port.containerPort) || !(0...65535).contains(port.hostPort) {
            return "\(at).ports[\(p)]: a port is out of range (0…65535)"
        }
        return nil
    }
}

extension AgentReport {
    /// The first number out of range in the report; nil when the report may be applied.
    public func outOfRange() -> String? {
        for (i, node) in nodes.enumerated() { if let problem = node.outOfRange(at: i) { return problem } }
        for (i, container) in containers.enumerated() { if let problem = container.outOfRange(at: i) { return problem } }
        return nil
    }
}

extension Heartbeat {
    public func outOfRange() -> String? {
        for (i, node) in nodes.enumerated() { if let problem = node.outOfRange(at: i) { return problem } }
        return nil
    }
}
