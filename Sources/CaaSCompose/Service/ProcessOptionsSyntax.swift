import CaaSModel

/// `user`, `group_add`, `working_dir`, `stop_signal`, `read_only`, `cap_drop`,
/// `security_opt: [no-new-privileges]`, `pids_limit` and `sysctls`: read into `ProcessOptions`.
/// Nothing here reaches beyond the container, so no host policy rules on it; what would is
/// never passed on: a sysctl the kernel keeps for the whole node is refused at its line, and one
/// of a namespace the service shares with the node (`net.*` on caas's default node network, IPC
/// ones with `ipc: host`) is not applied, with a warning at its line.
enum ProcessOptionsSyntax {
    struct Failure: Error, Equatable { var message: String }

    /// Linux signal names, without `SIG`.
    static let signals: Set<String> = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
    ]

    /// `SIGTERM`, `term`, `TERM` → `SIGTERM`; `15` → `15` (1…64).
    static func canonicalSignal(_ text: String) throws(Failure) -> String {
        if let number = Int(text) {
            guard (1...64).contains(number) else { throw Failure(message: "signal \(number) is out of range (1…64)") }
            return String(number)
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard signals.contains(name) else { throw Failure(message: "'\(text)' is not a signal (like SIGTERM or SIGINT)") }
        return "SIG" + name
    }

    /// A user or group as the engine takes it: a name or a number, of letters, digits, `_`, `.`, `-`.
    static func isAccountName(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 256 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    /// `user`: `USER[:GROUP]`.
    static func parseUser(_ text: String) throws(Failure) -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy(isAccountName) else {
            throw Failure(message: "'\(text)' is not a user: expected USER or USER:GROUP, names or numbers")
        }
        return text
    }

    /// What becomes of one `sysctls` entry.
    enum SysctlDecision: Equatable {
        case set
        /// Refused: an error at its line.
        case refused(String)
        /// Not applied (it would change the node): a warning at its line.
        case notApplied(String)
    }

    /// Only namespaced parameters are set, and only for a namespace the service does not share
    /// with the node.
    static func sysctl(_ name: String, value: String?, sharesNodeNetwork: Bool, sharesNodeIPC: Bool) -> SysctlDecision {
        guard let value, !value.isEmpty else { return .refused("sysctl '\(name)' needs a value") }
        if value.count > 4096 || value.contains(where: { $0 == "\n" || $0 == "\0" }) {
            return .refused("the value of sysctl '\(name)' must be one line of at most 4096 characters")
        }
        switch NamespacedSysctls.namespace(of: name) {
        case nil:
            return .refused("sysctl '\(name)' is kept by the kernel for the whole node: a container may set only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*")
        case .network where sharesNodeNetwork:
            return .notApplied("sysctl '\(name)' is not applied: the service runs on the node's network, where it would change the node (give network_mode 'bridge' or 'none' to set it)")
        case .ipc where sharesNodeIPC:
            return .notApplied("sysctl '\(name)' is not applied: the service shares the node's IPC namespace (ipc 'host'), where it would change the node")
        default:
            return .set
        }
    }
}

extension ServiceReader {
    /// The service's process options; `nil` when it sets none. `networkMode` and `ipc` are the
    /// service's, read already: they decide which sysctls it may set.
    func readProcessOptions(_ node: YNode, networkMode: String?, ipc: String?) -> ProcessOptions? {
        var options = ProcessOptions()
        if let n = node["user"], let optional = reader.optionalString(n), let text = optional?.trimmingSpaces, !text.isEmpty {
            do { options.user = try ProcessOptionsSyntax.parseUser(text) } catch { log.error(n, error.message) }
        }
        if let n = node["group_add"], let items = reader.strings(n) {
            for (text, item) in items {
                let group = text.trimmingSpaces
                guard ProcessOptionsSyntax.isAccountName(Substring(group)) else {
                    log.error(item, "'\(text)' is not a group: expected a name or a number")
                    continue
                }
                if !options.groupAdd.contains(group) { options.groupAdd.append(group) }
            }
        }
        if let n = node["working_dir"], let optional = reader.optionalString(n), let text = optional, !text.isEmpty {
            if text.hasPrefix("/"), text.count <= 4096, !text.contains(where: { $0 == "\n" || $0 == "\0" }) {
                options.workingDir = text
            } else {
                log.error(n, "working_dir '\(text)' must be an absolute path in the container")
            }
        }
        if let n = node["stop_signal"], let optional = reader.optionalString(n), let text = optional?.trimmingSpaces, !text.isEmpty {
            do { options.stopSignal = try ProcessOptionsSyntax.canonicalSignal(text) } catch { log.error(n, error.message) }
        }
        if let n = node["read_only"], let value = reader.bool(n) { options.readOnlyRootFilesystem = value }
        if let n = node["cap_drop"], let items = reader.strings(n) {
            for (text, item) in items {
                guard let name = LinuxCapabilities.canonical(text.trimmingSpaces) else {
                    log.error(item, "'\(text)' is not a Linux capability (like NET_RAW, or ALL)")
                    continue
                }
                if !options.capDrop.contains(name) { options.capDrop.append(name) }
            }
        }
        if let items = node["security_opt"]?.items {
            // Errors in these entries are reported once, where host options read them.
            for item in items {
                guard let text = item.scalar?.text.trimmingSpaces,
                      case .noNewPrivileges(let flag)? = try? HostOptionsSyntax.parseSecurityOption(text) else { continue }
                options.noNewPrivileges = flag
            }
        }
        if let n = node["pids_limit"], let value = reader.int(n, what: "a process limit", in: SpecBounds.pidsLimit) {
            options.pidsLimit = value > 0 ? value : nil
        }
        if let n = node["sysctls"], let entries = reader.keyValues(n, what: "sysctl") {
            let sharesNodeNetwork = !["bridge", "none"].contains(networkMode ?? "host")
            for (name, value, item) in entries {
                let name = name.trimmingSpaces
                switch ProcessOptionsSyntax.sysctl(name, value: value, sharesNodeNetwork: sharesNodeNetwork, sharesNodeIPC: ipc == "host") {
                case .set: options.sysctls[name] = value ?? ""
                case .refused(let message): log.error(item, message)
                case .notApplied(let message): log.warning(item, message)
                }
            }
        }
        return options.isEmpty ? nil : options
    }
}
