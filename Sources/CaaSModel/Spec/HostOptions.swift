/// What a service asks of the node's kernel beyond mounts and network: `privileged`, `cap_add`,
/// `devices`, `pid`, `ipc`. The tenant's `HostPolicy` decides whether it may (checked when the
/// compose text is validated or deployed); the agent passes it to the engine as written.
public struct HostOptions: Codable, Sendable, Equatable {
    public var privileged: Bool
    /// Canonical capability names (`NET_ADMIN`, or `ALL`).
    public var capAdd: [String]
    public var devices: [DeviceMapping]
    /// `host`, or `nil` for the container's own PID namespace.
    public var pid: String?
    /// `host`, `private`, `shareable`, `none`, or `nil` for the engine's default.
    public var ipc: String?

    public init(privileged: Bool = false, capAdd: [String] = [], devices: [DeviceMapping] = [], pid: String? = nil, ipc: String? = nil) {
        self.privileged = privileged
        self.capAdd = capAdd
        self.devices = devices
        self.pid = pid
        self.ipc = ipc
    }

    public var isEmpty: Bool { self == HostOptions() }
}

/// A `devices` entry: `HOST[:CONTAINER[:PERMISSIONS]]`.
public struct DeviceMapping: Codable, Sendable, Equatable {
    public var hostPath: String
    public var containerPath: String
    /// Cgroup permissions, some of `r`, `w`, `m`.
    public var permissions: String

    public init(hostPath: String, containerPath: String? = nil, permissions: String = "rwm") {
        self.hostPath = hostPath
        self.containerPath = containerPath ?? hostPath
        self.permissions = permissions
    }
}
