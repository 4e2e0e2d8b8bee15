/// What a tenant's containers may ask of the nodes they run on, set by the system administrator.
///
/// The defaults keep the host the operator's: no host path may be bind-mounted, no privileged
/// mode, no added capability, no device, no host PID or IPC namespace. Host networking is allowed
/// while it is the only network caas offers, and external volumes (named volumes that exist on
/// the engine already) are allowed unless forbidden. Whatever the policy says, the engine's socket
/// and its parent directories are never mountable (see `engineSockets`).
public struct HostPolicy: Codable, Sendable, Equatable {
    /// Absolute host paths below which (or at which) binds are allowed, normalised.
    public var bindPrefixes: [String]
    public var hostNetwork: Bool
    public var privileged: Bool
    /// Capabilities `cap_add` may name (canonical, without `CAP_`; `ALL` allows every one).
    public var capabilities: [String]
    /// Absolute host paths below which (or at which) devices may be passed in.
    public var devicePrefixes: [String]
    public var hostPID: Bool
    public var hostIPC: Bool
    public var externalVolumes: Bool

    public init(bindPrefixes: [String] = [], hostNetwork: Bool = true, privileged: Bool = false, capabilities: [String] = [],
                devicePrefixes: [String] = [], hostPID: Bool = false, hostIPC: Bool = false, externalVolumes: Bool = true) {
        self.bindPrefixes = bindPrefixes
        self.hostNetwork = hostNetwork
        self.privileged = privileged
        self.capabilities = capabilities
        self.devicePrefixes = devicePrefixes
        self.hostPID = hostPID
        self.hostIPC = hostIPC
        self.externalVolumes = externalVolumes
    }

    /// A tenant nobody set a policy for.
    public static let standard = HostPolicy()

    /// Sockets that hand whoever reaches them the whole node: never mountable, nor any directory
    /// above them.
    public static let engineSockets = [
        "/var/run/docker.sock", "/run/docker.sock",
        "/var/run/containerd/containerd.sock", "/run/containerd/containerd.sock",
    ]

    enum CodingKeys: String, CodingKey {
        case bindPrefixes = "bind_prefixes", hostNetwork = "host_network", privileged, capabilities
        case devicePrefixes = "device_prefixes", hostPID = "host_pid", hostIPC = "host_ipc", externalVolumes = "external_volumes"
    }

    /// Members left out keep their defaults (a stored `{}` is the standard policy).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let standard = HostPolicy.standard
        bindPrefixes = try c.decodeIfPresent([String].self, forKey: .bindPrefixes) ?? standard.bindPrefixes
        hostNetwork = try c.decodeIfPresent(Bool.self, forKey: .hostNetwork) ?? standard.hostNetwork
        privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? standard.privileged
        capabilities = try c.decodeIfPresent([String].self, forKey: .capabilities) ?? standard.capabilities
        devicePrefixes = try c.decodeIfPresent([String].self, forKey: .devicePrefixes) ?? standard.devicePrefixes
        hostPID = try c.decodeIfPresent(Bool.self, forKey: .hostPID) ?? standard.hostPID
        hostIPC = try c.decodeIfPresent(Bool.self, forKey: .hostIPC) ?? standard.hostIPC
        externalVolumes = try c.decodeIfPresent(Bool.self, forKey: .externalVolumes) ?? standard.externalVolumes
    }
}

// MARK: The decision

extension HostPolicy {
    /// Why `access` is refused under this policy; `nil` when it is allowed.
    public func refusal(for access: HostAccess) -> String? {
        switch access {
        case .bind(let source):
            guard let path = HostPath.normalized(source) else {
                return "host path '\(source)' is relative: it has no meaning on a remote node (give an absolute path the tenant's host policy allows)"
            }
            if let socket = Self.engineSockets.first(where: { HostPath.isWithin($0, path) }) {
                return "host path '\(source)' would expose the engine socket \(socket): it is never mountable"
            }
            if bindPrefixes.contains(where: { HostPath.isWithin(path, $0) }) { return nil }
            return "binding host path '\(source)' is not allowed by the tenant's host policy (\(Self.allowed(bindPrefixes, what: "bind prefixes")))"
        case .hostNetwork:
            return hostNetwork ? nil
                : "the node's network (network_mode 'host', caas's default) is not allowed by the tenant's host policy: give network_mode 'bridge' or 'none'"
        case .privileged:
            return privileged ? nil : "privileged mode is not allowed by the tenant's host policy"
        case .unconfined(let what):
            return privileged ? nil
                : "\(what) lifts the container's confinement: allowed only where the tenant's host policy allows privileged mode"
        case .capability(let name):
            if capabilities.contains("ALL") || (name != "ALL" && capabilities.contains(name)) { return nil }
            return "adding capability \(name) is not allowed by the tenant's host policy (\(Self.allowed(capabilities, what: "capabilities")))"
        case .device(let source):
            guard let path = HostPath.normalized(source) else {
                return "device '\(source)' is not an absolute host path"
            }
            if devicePrefixes.contains(where: { HostPath.isWithin(path, $0) }) { return nil }
            return "device '\(source)' is not allowed by the tenant's host policy (\(Self.allowed(devicePrefixes, what: "device prefixes")))"
        case .hostPID:
            return hostPID ? nil : "pid 'host' is not allowed by the tenant's host policy"
        case .hostIPC:
            return hostIPC ? nil : "ipc 'host' is not allowed by the tenant's host policy"
        case .externalVolume(let name):
            return externalVolumes ? nil : "external volume '\(name)' is not allowed by the tenant's host policy"
        }
    }

    private static func allowed(_ values: [String], what: String) -> String {
        values.isEmpty ? "it allows none" : "allowed \(what): \(values.joined(separator: ", "))"
    }
}

// MARK: Checking a policy an administrator sends

extension HostPolicy {
    /// A value the policy cannot hold: `field` is a JSON pointer into the policy document.
    public struct Problem: Sendable, Equatable {
        public var field: String
        public var message: String
    }

    /// Every value that is not acceptable: prefixes must be absolute paths without `.`/`..`
    /// segments, capabilities must be Linux capability names (or `ALL`).
    public var problems: [Problem] {
        var out: [Problem] = []
        func checkPrefixes(_ prefixes: [String], key: CodingKeys) {
            for (index, prefix) in prefixes.enumerated() {
                let segments = prefix.split(separator: "/")
                if !prefix.hasPrefix("/") {
                    out.append(Problem(field: "/\(key.rawValue)/\(index)", message: "'\(prefix)' is not an absolute path"))
                } else if segments.contains(".") || segments.contains("..") {
                    out.append(Problem(field: "/\(key.rawValue)/\(index)", message: "'\(prefix)' has '.' or '..' segments: give the path itself"))
                } else if prefix.contains("\0") {
                    out.append(Problem(field: "/\(key.rawValue)/\(index)", message: "a path cannot hold a NUL character"))
                }
            }
        }
        checkPrefixes(bindPrefixes, key: .bindPrefixes)
        checkPrefixes(devicePrefixes, key: .devicePrefixes)
        for (index, name) in capabilities.enumerated() where LinuxCapabilities.canonical(name) == nil {
            out.append(Problem(field: "/capabilities/\(index)", message: "'\(name)' is not a Linux capability (like NET_ADMIN, or ALL)"))
        }
        return out
    }

    /// The same policy spelled one way: prefixes normalised, capabilities canonical, each once.
    public var canonical: HostPolicy {
        var out = self
        out.bindPrefixes = Self.unique(bindPrefixes.map { HostPath.normalized($0) ?? $0 })
        out.devicePrefixes = Self.unique(devicePrefixes.map { HostPath.normalized($0) ?? $0 })
        out.capabilities = Self.unique(capabilities.map { LinuxCapabilities.canonical($0) ?? $0 })
        return out
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
