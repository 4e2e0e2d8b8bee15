import Foundation

/// What `caasctl up` shows of a rollout at one moment: each service's running and desired
/// replicas and the deployment's state. Built from API objects; rendered by `ProgressRenderer`.
public struct RolloutProgress: Sendable, Equatable {
    public struct ServiceLine: Sendable, Equatable {
        public var name: String
        public var desired: Int
        public var running: Int
        /// `running`, `pending`, `degraded`, `external`, …
        public var status: String

        public init(name: String, desired: Int, running: Int, status: String) {
            self.name = name
            self.desired = desired
            self.running = running
            self.status = status
        }

        public var isExternal: Bool { status == "external" }
    }

    public var services: [ServiceLine]
    /// The deployment's state: `in_progress` (or empty) while rolling, then `succeeded`,
    /// `failed` or `rolled_back`.
    public var deploymentStatus: String
    public var reason: String?

    public init(services: [ServiceLine], deploymentStatus: String, reason: String? = nil) {
        self.services = services
        self.deploymentStatus = deploymentStatus
        self.reason = reason
    }

    public init(services: [Service], deployment: Deployment?) {
        self.services = services.map {
            ServiceLine(name: $0.name, desired: $0.desiredReplicas, running: $0.runningReplicas,
                        status: $0.kind == "external" ? "external" : $0.status)
        }.sorted { $0.name < $1.name }
        deploymentStatus = deployment?.status ?? ""
        reason = deployment?.reason
    }

    public var isFinished: Bool { Deployment.finishedStates.contains(deploymentStatus) }
}

/// Draws rollout progress. On a terminal: one line per service, redrawn in place
/// (`web  ███░░ 3/5 running`). Elsewhere (logs, CI, pipes): a plain line whenever a service's
/// numbers or status change, and one when the deployment's state changes. Pure: it returns the
/// text to write; the caller writes it.
public struct ProgressRenderer: Sendable {
    public var terminal: Bool
    public var style: TerminalStyle
    public var barWidth: Int
    private var drawnLines = 0
    private var previous: RolloutProgress?

    public init(terminal: Bool, style: TerminalStyle = .plain, barWidth: Int = 20) {
        self.terminal = terminal
        self.style = style
        self.barWidth = barWidth
    }

    /// The text that brings the display to `progress`.
    public mutating func render(_ progress: RolloutProgress) -> String {
        defer { previous = progress }
        return terminal ? redraw(progress) : changes(progress)
    }

    /// `███░░`: the running share of the desired replicas.
    public func bar(running: Int, desired: Int) -> String {
        let filled: Int
        if desired <= 0 {
            filled = running == 0 ? barWidth : 0
        } else {
            filled = min(barWidth, running * barWidth / desired)
        }
        return String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled)
    }

    /// One service's line (without cursor control).
    public func line(_ service: RolloutProgress.ServiceLine, nameWidth: Int) -> String {
        let name = service.name + String(repeating: " ", count: max(0, nameWidth - Table.displayWidth(service.name)))
        if service.isExternal { return "\(name)  external endpoint" }
        let counts = "\(service.running)/\(service.desired)"
        let done = service.running == service.desired
        let colour: TerminalStyle.Colour = done ? .green : (["failed", "degraded"].contains(service.status) ? .red : .yellow)
        let word = done && service.desired > 0 ? "running" : (service.status.isEmpty ? "pending" : service.status)
        return "\(name)  \(style.paint(bar(running: service.running, desired: service.desired), colour)) \(counts) \(word)"
    }

    private func nameWidth(_ progress: RolloutProgress) -> Int {
        progress.services.map { Table.displayWidth($0.name) }.max() ?? 0
    }

    private mutating func redraw(_ progress: RolloutProgress) -> String {
        var text = ""
        if drawnLines > 0 { text += "\u{1B}[\(drawnLines)A" }
        let width = nameWidth(progress)
        var lines = progress.services.map { line($0, nameWidth: width) }
        if let status = statusLine(progress) { lines.append(status) }
        for line in lines { text += "\r\u{1B}[2K" + line + "\n" }
        // Lines left over from a longer previous frame are cleared.
        if drawnLines > lines.count {
            for _ in lines.count..<drawnLines { text += "\r\u{1B}[2K\n" }
            text += "\u{1B}[\(drawnLines - lines.count)A"
        }
        drawnLines = lines.count
        return text
    }

    private func changes(_ progress: RolloutProgress) -> String {
        var text = ""
        let before = Dictionary((previous?.services ?? []).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let width = nameWidth(progress)
        for service in progress.services where before[service.name] != service {
            text += plainLine(service, nameWidth: width) + "\n"
        }
        if progress.deploymentStatus != previous?.deploymentStatus || progress.reason != previous?.reason,
           let status = statusLine(progress) {
            text += status + "\n"
        }
        return text
    }

    /// `web  3/5 running` for logs.
    public func plainLine(_ service: RolloutProgress.ServiceLine, nameWidth: Int) -> String {
        let name = service.name + String(repeating: " ", count: max(0, nameWidth - Table.displayWidth(service.name)))
        if service.isExternal { return "\(name)  external endpoint" }
        let word = service.running == service.desired && service.desired > 0 ? "running" : (service.status.isEmpty ? "pending" : service.status)
        return "\(name)  \(service.running)/\(service.desired) \(word)"
    }

    func statusLine(_ progress: RolloutProgress) -> String? {
        let reason = progress.reason.map { ": \($0)" } ?? ""
        switch progress.deploymentStatus {
        case "": return nil
        case "succeeded": return style.paint("rollout succeeded", .green)
        case "failed": return style.paint("rollout failed\(reason)", .red)
        case "rolled_back": return style.paint("rollout rolled back\(reason)", .red)
        default: return "rollout \(progress.deploymentStatus.replacingOccurrences(of: "_", with: " "))\(reason)"
        }
    }
}
