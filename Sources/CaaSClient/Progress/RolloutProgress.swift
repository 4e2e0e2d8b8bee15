import Foundation

/// What `caasctl up` shows of a rollout at one moment: each service's running and desired
/// replicas, why containers of it cannot be placed, and the deployment's state. Built from API
/// objects; rendered by `ProgressRenderer`.
public struct RolloutProgress: Sendable, Equatable {
    public struct ServiceLine: Sendable, Equatable {
        public var name: String
        public var desired: Int
        public var running: Int
        /// `running`, `pending`, `degraded`, `external`, …
        public var status: String
        /// The server's latest word on containers of this service it cannot place (the summary
        /// of its `service.unplaced` event: "web: 3 containers cannot be placed: 0/2 nodes are
        /// available: 2 insufficient memory"), or `nil`.
        public var unplaced: String?

        public init(name: String, desired: Int, running: Int, status: String, unplaced: String? = nil) {
            self.name = name
            self.desired = desired
            self.running = running
            self.status = status
            self.unplaced = unplaced
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

    /// `unplaced`: by service id, what the server last said about containers it cannot place.
    public init(services: [Service], deployment: Deployment?, unplaced: [String: String] = [:]) {
        self.services = services.map {
            ServiceLine(name: $0.name, desired: $0.desiredReplicas, running: $0.runningReplicas,
                        status: $0.kind == "external" ? "external" : $0.status, unplaced: unplaced[$0.id])
        }.sorted { $0.name < $1.name }
        deploymentStatus = deployment?.status ?? ""
        reason = deployment?.reason
    }

    public var isFinished: Bool { Deployment.finishedStates.contains(deploymentStatus) }
}

/// Draws rollout progress. On a terminal: one line per service, redrawn in place
/// (`web  ███░░ 3/5 running`), each cut to the terminal's width so it never wraps. Elsewhere
/// (logs, CI, pipes): a plain line whenever a service's numbers or status change, and one when
/// the deployment's state changes. Why a service's containers cannot be placed is printed once
/// each time it changes, in full: above the redrawn lines on a terminal, as a line elsewhere.
/// Pure: it returns the text to write; the caller writes it.
public struct ProgressRenderer: Sendable {
    public var terminal: Bool
    public var style: TerminalStyle
    public var barWidth: Int
    /// The terminal's columns, when known.
    public var columns: Int?
    private var drawnLines = 0
    private var previous: RolloutProgress?

    public init(terminal: Bool, style: TerminalStyle = .plain, barWidth: Int = 20, columns: Int? = nil) {
        self.terminal = terminal
        self.style = style
        self.barWidth = barWidth
        self.columns = columns
    }

    /// The text that brings the display to `progress`.
    public mutating func render(_ progress: RolloutProgress) -> String {
        defer { previous = progress }
        return terminal ? redraw(progress) : changes(progress)
    }

    /// Placement explanations that are new since the previous frame, one line each.
    func newUnplaced(_ progress: RolloutProgress) -> [String] {
        let before = Dictionary((previous?.services ?? []).map { ($0.name, $0.unplaced) }, uniquingKeysWith: { $1 })
        return progress.services.compactMap { service in
            guard let text = service.unplaced, (before[service.name] ?? nil) != text else { return nil }
            return Table.sanitize(text)
        }
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
        let notes = newUnplaced(progress)
        if !notes.isEmpty {
            // Printed once above the redrawn lines, which start again below them (they may wrap).
            text += "\r\u{1B}[J" + notes.map { style.paint($0, .yellow) + "\n" }.joined()
            drawnLines = 0
        }
        let width = nameWidth(progress)
        var lines = progress.services.map { line($0, nameWidth: width) }
        if let status = statusLine(progress) { lines.append(status) }
        if let columns, columns > 1 { lines = lines.map { Self.cut($0, to: columns - 1) } }
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
        for service in progress.services {
            // A service's line for a change of its numbers or status; a new explanation has a line of its own.
            var shown = before[service.name]
            shown?.unplaced = service.unplaced
            if shown != service { text += plainLine(service, nameWidth: width) + "\n" }
        }
        for note in newUnplaced(progress) { text += note + "\n" }
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

    /// `text` in at most `columns` terminal columns, `…` marking a cut. Colour escapes take no
    /// columns; a cut text ends with a reset.
    static func cut(_ text: String, to columns: Int) -> String {
        guard visibleWidth(text) > columns else { return text }
        var out = String.UnicodeScalarView()
        var used = 0
        var scanner = EscapeScanner()
        for scalar in text.unicodeScalars {
            if scanner.isEscape(scalar) {
                out.append(scalar)
                continue
            }
            let width = Table.displayWidth(String(scalar))
            if used + width > columns - 1 { break }
            used += width
            out.append(scalar)
        }
        return String(out) + "…" + (scanner.seen ? "\u{1B}[0m" : "")
    }

    /// Columns `text` takes on a terminal, its colour escapes taking none.
    static func visibleWidth(_ text: String) -> Int {
        var scanner = EscapeScanner()
        return text.unicodeScalars.reduce(0) { $0 + (scanner.isEscape($1) ? 0 : Table.displayWidth(String($1))) }
    }

    /// Tells the scalars of `ESC [ … final` sequences from the text around them.
    private struct EscapeScanner {
        private var state = 0  // 0 text, 1 after ESC, 2 inside `ESC [`
        private(set) var seen = false

        mutating func isEscape(_ scalar: Unicode.Scalar) -> Bool {
            switch state {
            case 1:
                state = scalar == "[" ? 2 : 0
                return true
            case 2:
                if (0x40...0x7E).contains(scalar.value) { state = 0 }
                return true
            default:
                guard scalar == "\u{1B}" else { return false }
                state = 1
                seen = true
                return true
            }
        }
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
