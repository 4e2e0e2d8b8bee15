import CaaSModel

/// `privileged`, `cap_add`, `devices`, `pid`, `ipc`: read into `HostOptions`, and each use
/// declared for the tenant's host policy (`DiagnosticLog.declare`).
///
/// `devices` entries are `HOST[:CONTAINER[:PERMISSIONS]]` with absolute paths and permissions made
/// of `r`, `w`, `m` (CDI names are not supported). `pid` takes `host` only; `ipc` takes `host`,
/// `private`, `shareable` or `none` (sharing another container's namespaces is not supported).
enum HostOptionsSyntax {
    struct Failure: Error, Equatable { var message: String }

    static let ipcModes: Set<String> = ["host", "private", "shareable", "none"]

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
        return options.isEmpty ? nil : options
    }
}
