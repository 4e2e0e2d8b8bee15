/// What a service asks of the node's kernel beyond mounts and network: `privileged`, `cap_add`,
/// `devices`, `pid`, `ipc`, the `security_opt` entries that lift confinement, `uts`,
/// `userns_mode`, `cgroup` and `device_cgroup_rules`. The tenant's `HostPolicy` decides whether it
/// may (checked when the compose text is validated or deployed); the agent passes it to the
/// engine as written.
public struct HostOptions: Codable, Sendable, Equatable {
    public var privileged: Bool
    /// Canonical capability names (`NET_ADMIN`, or `ALL`).
    public var capAdd: [String]
    public var devices: [DeviceMapping]
    /// `host`, or `nil` for the container's own PID namespace.
    public var pid: String?
    /// `host`, `private`, `shareable`, `none`, or `nil` for the engine's default.
    public var ipc: String?
    /// `security_opt` entries that lift confinement, as the engine spells them
    /// (`seccomp=unconfined`, `apparmor=unconfined`, `label=disable`, `systempaths=unconfined`).
    public var securityOptions: [String]
    /// `host`, or `nil` for the container's own UTS namespace.
    public var uts: String?
    /// `host`, or `nil` for the engine's user-namespace setting.
    public var userns: String?
    /// `host` or `private`, or `nil` for the engine's default cgroup namespace.
    public var cgroup: String?
    /// `c 1:3 mr`-style rules letting the container create or use device nodes.
    public var deviceCgroupRules: [String]

    public init(privileged: Bool = false, capAdd: [String] = [], devices: [DeviceMapping] = [], pid: String? = nil, ipc: String? = nil,
                securityOptions: [String] = [], uts: String? = nil, userns: String? = nil, cgroup: String? = nil,
                deviceCgroupRules: [String] = []) {
        self.privileged = privileged
        self.capAdd = capAdd
        self.devices = devices
        self.pid = pid
        self.ipc = ipc
        self.securityOptions = securityOptions
        self.uts = uts
        self.userns = userns
        self.cgroup = cgroup
        self.deviceCgroupRules = deviceCgroupRules
    }

    public var isEmpty: Bool { self == HostOptions() }

    enum CodingKeys: String, CodingKey {
        case privileged, capAdd, devices, pid, ipc, securityOptions, uts, userns, cgroup, deviceCgroupRules
    }

    /// Members left out keep their defaults, so specs stored before a member existed still read.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false
        capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? []
        devices = try c.decodeIfPresent([DeviceMapping].self, forKey: .devices) ?? []
        pid = try c.decodeIfPresent(String.self, forKey: .pid)
        ipc = try c.decodeIfPresent(String.self, forKey: .ipc)
        securityOptions = try c.decodeIfPresent([String].self, forKey: .securityOptions) ?? []
        uts = try c.decodeIfPresent(String.self, forKey: .uts)
        userns = try c.decodeIfPresent(String.self, forKey: .userns)
        cgroup = try c.decodeIfPresent(String.self, forKey: .cgroup)
        deviceCgroupRules = try c.decodeIfPresent([String].self, forKey: .deviceCgroupRules) ?? []
    }
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
