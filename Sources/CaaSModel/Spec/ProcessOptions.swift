/// How a service's processes run inside their containers, and what they give up: `user`,
/// `group_add`, `working_dir`, `stop_signal`, `read_only`, `cap_drop`,
/// `security_opt: [no-new-privileges]`, `pids_limit` and `sysctls`. None of these reaches beyond
/// the container, so no host policy rules on them; the agent passes them to the engine as written.
public struct ProcessOptions: Codable, Sendable, Equatable {
    /// `uid[:gid]` or `name[:group]`; `nil` keeps the image's user.
    public var user: String?
    /// Supplementary groups (names or ids).
    public var groupAdd: [String]
    /// Absolute path; `nil` keeps the image's.
    public var workingDir: String?
    /// `SIGTERM`, `SIGINT`, … (canonical, with `SIG`), or a number; `nil` keeps the image's.
    public var stopSignal: String?
    /// The root file system mounted read-only.
    public var readOnlyRootFilesystem: Bool
    /// Canonical capability names (`NET_RAW`, or `ALL`).
    public var capDrop: [String]
    /// `security_opt: [no-new-privileges]`: setuid binaries and file capabilities gain nothing.
    public var noNewPrivileges: Bool
    /// At most this many processes (`nil`: the engine's default).
    public var pidsLimit: Int?
    /// Kernel parameters of the container's own namespaces (`net.*` with its own network,
    /// `kernel.shm*`, `kernel.msg*`, `kernel.sem` and `fs.mqueue.*` with its own IPC).
    public var sysctls: [String: String]

    public init(user: String? = nil, groupAdd: [String] = [], workingDir: String? = nil, stopSignal: String? = nil,
                readOnlyRootFilesystem: Bool = false, capDrop: [String] = [], noNewPrivileges: Bool = false,
                pidsLimit: Int? = nil, sysctls: [String: String] = [:]) {
        self.user = user
        self.groupAdd = groupAdd
        self.workingDir = workingDir
        self.stopSignal = stopSignal
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.capDrop = capDrop
        self.noNewPrivileges = noNewPrivileges
        self.pidsLimit = pidsLimit
        self.sysctls = sysctls
    }

    public var isEmpty: Bool { self == ProcessOptions() }

    enum CodingKeys: String, CodingKey {
        case user, groupAdd, workingDir, stopSignal, readOnlyRootFilesystem, capDrop, noNewPrivileges, pidsLimit, sysctls
    }

    /// Members left out keep their defaults, so specs stored before a member existed still read.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        groupAdd = try c.decodeIfPresent([String].self, forKey: .groupAdd) ?? []
        workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir)
        stopSignal = try c.decodeIfPresent(String.self, forKey: .stopSignal)
        readOnlyRootFilesystem = try c.decodeIfPresent(Bool.self, forKey: .readOnlyRootFilesystem) ?? false
        capDrop = try c.decodeIfPresent([String].self, forKey: .capDrop) ?? []
        noNewPrivileges = try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? false
        pidsLimit = try c.decodeIfPresent(Int.self, forKey: .pidsLimit)
        sysctls = try c.decodeIfPresent([String: String].self, forKey: .sysctls) ?? [:]
    }
}

/// The kernel parameters a container may set for itself: those the kernel keeps per network or
/// IPC namespace. Anything else would change the node for every container on it.
public enum NamespacedSysctls {
    public enum Namespace: Sendable, Equatable { case network, ipc }

    static let ipcNames: Set<String> = [
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    ]

    /// The namespace `name` belongs to; `nil` when the kernel keeps it for the whole node.
    public static func namespace(of name: String) -> Namespace? {
        if name.hasPrefix("net.") && name.count > 4 { return .network }
        if ipcNames.contains(name) || (name.hasPrefix("fs.mqueue.") && name.count > 10) { return .ipc }
        return nil
    }
}
