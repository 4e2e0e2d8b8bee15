import CaaSModel

/// `privileged`, `cap_add`, `devices`, `pid`, `ipc`, `uts`, `userns_mode`, `cgroup`,
/// `device_cgroup_rules`, the confinement-lifting `security_opt` entries and `use_api_socket`:
/// read into `HostOptions`, and each use declared for the tenant's host policy
/// (`DiagnosticLog.declare`).
///
/// `devices` entries are `HOST[:CONTAINER[:PERMISSIONS]]` with absolute paths and permissions made
/// of `r`, `w`, `m` (CDI names are not supported). `pid`, `uts` and `userns_mode` take `host`
/// only; `ipc` takes `host`, `private`, `shareable` or `none` (sharing another container's
/// namespaces is not supported); `cgroup` takes `host` or `private`.
enum HostOptionsSyntax {
    struct Failure: Error, Equatable { var message: String }

    static let ipcModes: Set<String> = ["host", "private", "shareable", "none"]

    /// One `security_opt` entry.
    enum SecurityOption: Equatable {
        /// `no-new-privileges[:true|false]`: a `ProcessOptions` setting.
        case noNewPrivileges(Bool)
        /// Lifts or chooses the confinement: the engine's spelling (`seccomp=unconfined`).
        case confinement(String)
    }

    /// `no-new-privileges`, `seccomp=unconfined`, `apparmor=PROFILE`, `label=disable`,
    /// `label=user:…`, `systempaths=unconfined`; `KEY:VALUE` is read like `KEY=VALUE`. A seccomp
    /// profile file is refused: it would have to exist on every node.
    static func parseSecurityOption(_ text: String) throws(Failure) -> SecurityOption {
        guard !text.isEmpty, !text.contains(where: { $0.isWhitespace || $0 == "\0" }) else {
            throw Failure(message: "'\(text)' is not a security option (it holds white space)")
        }
        guard let separator = text.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
            if text == "no-new-privileges" { return .noNewPrivileges(true) }
            throw Failure(message: "'\(text)' is not a security option caas knows (expected no-new-privileges, seccomp=unconfined, apparmor=PROFILE, label=… or systempaths=unconfined)")
        }
        let key = String(text[..<separator]), value = String(text[text.index(after: separator)...])
        switch key {
        case "no-new-privileges":
            guard let flag = ["true": true, "false": false][value] else {
                throw Failure(message: "'\(text)': no-new-privileges takes true or false")
            }
            return .noNewPrivileges(flag)
        case "seccomp":
            guard value == "unconfined" else {
                throw Failure(message: "'\(text)': seccomp profiles from files are not supported (the file would have to be on every node); keep the engine's default profile, or give seccomp=unconfined")
            }
            return .confinement("seccomp=unconfined")
        case "apparmor", "systempaths":
            guard !value.isEmpty, key == "apparmor" || value == "unconfined" else {
                throw Failure(message: key == "apparmor" ? "'\(text)': apparmor needs a profile name (or unconfined)" : "'\(text)': systempaths takes only unconfined")
            }
            return .confinement("\(key)=\(value)")
        case "label":
            let kinds = ["user:", "role:", "type:", "level:"]
            guard value == "disable" || value == "nested" || kinds.contains(where: { value.hasPrefix($0) && value.count > $0.count }) else {
                throw Failure(message: "'\(text)': label takes disable, nested, or user:, role:, type: or level: with a value")
            }
            return .confinement("label=\(value)")
        default:
            throw Failure(message: "'\(text)' is not a security option caas knows (expected no-new-privileges, seccomp=unconfined, apparmor=PROFILE, label=… or systempaths=unconfined)")
        }
    }

    /// `TYPE MAJOR:MINOR ACCESS`, as the engine takes it: `c 1:3 mr`, `b *:* rwm`, `a *:* rwm`.
    static func isDeviceCgroupRule(_ text: String) -> Bool {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, ["a", "b", "c"].contains(parts[0]) else { return false }
        let numbers = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard numbers.count == 2, numbers.allSatisfy({ $0 == "*" || (!$0.isEmpty && $0.count <= 10 && $0.allSatisfy({ $0.isASCII && $0.isNumber })) }) else { return false }
        let access = parts[2]
        return !access.isEmpty && access.allSatisfy({ "rwm".contains($0) }) && Set(access).count == access.count
    }

    static func parseDevice(_ text: String) throws(Failure) -> DeviceMapping {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), parts[0].hasPrefix("/") else {
            throw Failure(message: "'\(text)' is not a device: expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]] with absolute paths")
        }
        let container = parts.count >= 2 ? parts[1] : parts[0]
        guard container.hasPrefix("/") else {
            throw Failure(message: "'\(text)': the container path '\(container)' must be absolute")
        }
        let permissions = parts.count == 3 ? parts[2] : "rwm"
        guard !permissions.isEmpty, permissions.allSatisfy({ "rwm".contains($0) }), Set(permissions).count == permissions.count else {
            throw Failure(message: "'\(text)': device permissions '\(permissions)' must be some of r, w and m")
        }
        return DeviceMapping(hostPath: parts[0], containerPath: container, permissions: permissions)
    }
}

extension ServiceReader {
    /// The service's host options; `nil` when it asks none.
    func readHostOptions(_ node: YNode) -> HostOptions? {
        var options = HostOptions()
        if let n = node["privileged"], let value = reader.bool(n) {
            options.privileged = value
            if value { log.declare(.privileged, at: n) }
        }
        if let n = node["cap_add"], let items = reader.strings(n) {
            for (text, item) in items {
                guard let name = LinuxCapabilities.canonical(text.trimmingSpaces) else {
                    log.error(item, "'\(text)' is not a Linux capability (like NET_ADMIN, or ALL)")
                    continue
                }
                if options.capAdd.contains(name) { continue }
                options.capAdd.append(name)
                log.declare(.capability(name), at: item)
            }
        }
        if let n = node["devices"], let items = reader.strings(n) {
            for (text, item) in items {
                do {
                    let device = try HostOptionsSyntax.parseDevice(text.trimmingSpaces)
                    options.devices.append(device)
                    log.declare(.device(device.hostPath), at: item)
                } catch {
                    log.error(item, error.message)
                }
            }
        }
        if let n = node["pid"], let optional = reader.optionalString(n), let text = optional {
            if text == "host" {
                options.pid = text
                log.declare(.hostPID, at: n)
            } else {
                log.error(n, "pid '\(text)' is not supported by caas (only 'host')")
            }
        }
        if let n = node["ipc"], let optional = reader.optionalString(n), let text = optional {
            if HostOptionsSyntax.ipcModes.contains(text) {
                options.ipc = text
                if text == "host" { log.declare(.hostIPC, at: n) }
            } else {
                log.error(n, "ipc '\(text)' is not supported by caas (expected host, private, shareable or none)")
            }
        }
        if let n = node["uts"], let optional = reader.optionalString(n), let text = optional, !text.isEmpty {
            if text == "host" {
                options.uts = text
                log.declare(.unconfined("uts 'host'"), at: n)
            } else {
                log.error(n, "uts '\(text)' is not supported by caas (only 'host')")
            }
        }
        if let n = node["userns_mode"], let optional = reader.optionalString(n), let text = optional, !text.isEmpty {
            if text == "host" {
                options.userns = text
                log.declare(.unconfined("userns_mode 'host'"), at: n)
            } else {
                log.error(n, "userns_mode '\(text)' is not supported by caas (only 'host')")
            }
        }
        if let n = node["cgroup"], let optional = reader.optionalString(n), let text = optional, !text.isEmpty {
            if text == "host" || text == "private" {
                options.cgroup = text
                if text == "host" { log.declare(.unconfined("cgroup 'host'"), at: n) }
            } else {
                log.error(n, "cgroup '\(text)' is not supported (expected host or private)")
            }
        }
        if let n = node["device_cgroup_rules"], let items = reader.strings(n) {
            for (text, item) in items {
                guard HostOptionsSyntax.isDeviceCgroupRule(text) else {
                    log.error(item, "'\(text)' is not a device cgroup rule (expected TYPE MAJOR:MINOR ACCESS, like 'c 1:3 mr')")
                    continue
                }
                options.deviceCgroupRules.append(text)
                log.declare(.unconfined("device_cgroup_rules '\(text)'"), at: item)
            }
        }
        if let n = node["security_opt"], let items = reader.strings(n) {
            for (text, item) in items {
                do {
                    guard case .confinement(let option) = try HostOptionsSyntax.parseSecurityOption(text.trimmingSpaces) else { continue }
                    if !options.securityOptions.contains(option) { options.securityOptions.append(option) }
                    log.declare(.unconfined("security_opt '\(text.trimmingSpaces)'"), at: item)
                } catch {
                    log.error(item, error.message)
                }
            }
        }
        if let n = node["use_api_socket"], reader.bool(n) == true {
            log.error(n, "use_api_socket would hand the container the engine's socket, and with it the whole node: never allowed")
        }
        return options.isEmpty ? nil : options
    }
}
