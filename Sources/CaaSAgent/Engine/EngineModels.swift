import Foundation

// The subset of Docker Engine API v1.41 documents that caas reads and writes. The engine
// spells keys in PascalCase (stats in snake_case), so every type names its keys.

public struct EngineVersion: Decodable, Sendable, Equatable {
    public var version: String
    public var apiVersion: String
    public var os: String?
    public var arch: String?

    enum CodingKeys: String, CodingKey {
        case version = "Version", apiVersion = "ApiVersion", os = "Os", arch = "Arch"
    }
}

public struct EngineInfo: Decodable, Sendable, Equatable {
    public var cpus: Int
    public var memoryBytes: Int64
    public var serverVersion: String?
    public var name: String?

    enum CodingKeys: String, CodingKey {
        case cpus = "NCPU", memoryBytes = "MemTotal", serverVersion = "ServerVersion", name = "Name"
    }
}

public struct ImageDetails: Decodable, Sendable, Equatable {
    public var id: String
    public var repoTags: [String]?

    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags"
    }
}

/// An entry of `GET /containers/json`.
public struct ContainerSummary: Decodable, Sendable, Equatable {
    public var id: String
    public var names: [String]
    public var image: String
    public var labels: [String: String]
    public var state: String
    public var status: String?
    public var created: Int64

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", labels = "Labels", state = "State", status = "Status", created = "Created"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        names = try c.decodeIfPresent([String].self, forKey: .names) ?? []
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        state = try c.decodeIfPresent(String.self, forKey: .state) ?? "unknown"
        status = try c.decodeIfPresent(String.self, forKey: .status)
        created = try c.decodeIfPresent(Int64.self, forKey: .created) ?? 0
    }
}

/// `GET /containers/{id}/json`.
public struct ContainerDetails: Decodable, Sendable, Equatable {
    public struct State: Decodable, Sendable, Equatable {
        public var status: String
        public var running: Bool
        public var paused: Bool
        public var restarting: Bool
        public var oomKilled: Bool
        public var dead: Bool
        public var pid: Int
        public var exitCode: Int
        public var error: String?
        public var startedAt: String?
        public var finishedAt: String?

        enum CodingKeys: String, CodingKey {
            case status = "Status", running = "Running", paused = "Paused", restarting = "Restarting", oomKilled = "OOMKilled"
            case dead = "Dead", pid = "Pid", exitCode = "ExitCode", error = "Error", startedAt = "StartedAt", finishedAt = "FinishedAt"
        }
    }

    public struct Config: Decodable, Sendable, Equatable {
        public var image: String?
        public var env: [String]?
        public var cmd: [String]?
        public var labels: [String: String]?
        public var user: String?
        public var workingDir: String?
        public var stopSignal: String?

        enum CodingKeys: String, CodingKey {
            case image = "Image", env = "Env", cmd = "Cmd", labels = "Labels"
            case user = "User", workingDir = "WorkingDir", stopSignal = "StopSignal"
        }
    }

    public struct HostConfig: Decodable, Sendable, Equatable {
        public var nanoCpus: Int64?
        public var memory: Int64?
        public var networkMode: String?
        public var initProcess: Bool?
        public var privileged: Bool?
        public var capAdd: [String]?
        public var pidMode: String?
        public var ipcMode: String?
        public var capDrop: [String]?
        public var readonlyRootfs: Bool?
        public var securityOpt: [String]?
        public var pidsLimit: Int64?
        public var sysctls: [String: String]?
        public var groupAdd: [String]?
        public var utsMode: String?
        public var usernsMode: String?
        public var cgroupnsMode: String?

        enum CodingKeys: String, CodingKey {
            case nanoCpus = "NanoCpus", memory = "Memory", networkMode = "NetworkMode", initProcess = "Init"
            case privileged = "Privileged", capAdd = "CapAdd", pidMode = "PidMode", ipcMode = "IpcMode"
            case capDrop = "CapDrop", readonlyRootfs = "ReadonlyRootfs", securityOpt = "SecurityOpt", pidsLimit = "PidsLimit"
            case sysctls = "Sysctls", groupAdd = "GroupAdd", utsMode = "UTSMode", usernsMode = "UsernsMode", cgroupnsMode = "CgroupnsMode"
        }
    }

    /// A mount as the engine made it.
    public struct MountPoint: Decodable, Sendable, Equatable {
        public var type: String?
        public var name: String?
        public var source: String?
        public var destination: String
        public var readWrite: Bool?

        enum CodingKeys: String, CodingKey {
            case type = "Type", name = "Name", source = "Source", destination = "Destination", readWrite = "RW"
        }
    }

    public var id: String
    public var name: String
    public var created: String?
    public var restartCount: Int
    public var state: State
    public var config: Config
    public var hostConfig: HostConfig
    public var mounts: [MountPoint]?

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", created = "Created", restartCount = "RestartCount", state = "State", config = "Config", hostConfig = "HostConfig"
        case mounts = "Mounts"
    }
}

/// `POST /containers/create`.
public struct ContainerCreateBody: Encodable, Sendable, Equatable {
    public struct PortBinding: Encodable, Sendable, Equatable {
        public var hostIp: String
        public var hostPort: String
        enum CodingKeys: String, CodingKey { case hostIp = "HostIp", hostPort = "HostPort" }
    }

    public struct Mount: Encodable, Sendable, Equatable {
        public struct DriverConfig: Encodable, Sendable, Equatable {
            public var name: String
            public var options: [String: String]
            enum CodingKeys: String, CodingKey { case name = "Name", options = "Options" }
        }
        public struct VolumeOptions: Encodable, Sendable, Equatable {
            public var driverConfig: DriverConfig?
            enum CodingKeys: String, CodingKey { case driverConfig = "DriverConfig" }
        }
        public var type: String
        public var source: String?
        public var target: String
        public var readOnly: Bool
        public var volumeOptions: VolumeOptions?
        enum CodingKeys: String, CodingKey {
            case type = "Type", source = "Source", target = "Target", readOnly = "ReadOnly", volumeOptions = "VolumeOptions"
        }
    }

    public struct RestartPolicy: Encodable, Sendable, Equatable {
        public var name: String
        enum CodingKeys: String, CodingKey { case name = "Name" }
    }

    /// A device passed into the container.
    public struct DeviceMapping: Encodable, Sendable, Equatable {
        public var pathOnHost: String
        public var pathInContainer: String
        public var cgroupPermissions: String
        enum CodingKeys: String, CodingKey {
            case pathOnHost = "PathOnHost", pathInContainer = "PathInContainer", cgroupPermissions = "CgroupPermissions"
        }
    }

    public struct HostConfig: Encodable, Sendable, Equatable {
        public var networkMode: String
        public var initProcess: Bool
        public var nanoCpus: Int64?
        public var memory: Int64?
        public var portBindings: [String: [PortBinding]]?
        public var mounts: [Mount]?
        public var restartPolicy: RestartPolicy
        /// Host access the tenant's policy allowed: nil members are left out of the request.
        public var privileged: Bool?
        public var capAdd: [String]?
        public var devices: [DeviceMapping]?
        public var pidMode: String?
        public var ipcMode: String?
        public var utsMode: String?
        public var usernsMode: String?
        public var cgroupnsMode: String?
        public var deviceCgroupRules: [String]?
        /// Confinement lifted (`seccomp=unconfined`, …) and kept (`no-new-privileges:true`).
        public var securityOpt: [String]?
        /// What the service gives up or sets for itself: nil members are left out of the request.
        public var capDrop: [String]?
        public var readonlyRootfs: Bool?
        public var pidsLimit: Int64?
        public var sysctls: [String: String]?
        public var groupAdd: [String]?
        /// Name servers the engine's own resolver forwards to (its embedded DNS on user-defined
        /// networks asks them from the container's network namespace).
        public var dns: [String]? = nil
        enum CodingKeys: String, CodingKey {
            case networkMode = "NetworkMode", initProcess = "Init", nanoCpus = "NanoCpus", memory = "Memory"
            case portBindings = "PortBindings", mounts = "Mounts", restartPolicy = "RestartPolicy"
            case privileged = "Privileged", capAdd = "CapAdd", devices = "Devices", pidMode = "PidMode", ipcMode = "IpcMode"
            case utsMode = "UTSMode", usernsMode = "UsernsMode", cgroupnsMode = "CgroupnsMode", deviceCgroupRules = "DeviceCgroupRules"
            case securityOpt = "SecurityOpt", capDrop = "CapDrop", readonlyRootfs = "ReadonlyRootfs", pidsLimit = "PidsLimit"
            case sysctls = "Sysctls", groupAdd = "GroupAdd", dns = "Dns"
        }
    }

    public var image: String
    public var cmd: [String]?
    public var entrypoint: [String]?
    public var env: [String]
    public var labels: [String: String]
    public var exposedPorts: [String: EmptyObject]?
    public var stopTimeout: Int?
    public var hostConfig: HostConfig
    /// `nil` members keep the image's.
    public var user: String?
    public var workingDir: String?
    public var stopSignal: String?
    /// The container's endpoint on a caas network: its fixed address (`nil`: not on one).
    public var networkingConfig: NetworkingConfig? = nil

    public struct EmptyObject: Encodable, Sendable, Equatable {}

    /// `NetworkingConfig.EndpointsConfig`: one endpoint per network name.
    public struct NetworkingConfig: Encodable, Sendable, Equatable {
        public struct IPAMConfig: Encodable, Sendable, Equatable {
            public var ipv4Address: String
            public init(ipv4Address: String) { self.ipv4Address = ipv4Address }
            enum CodingKeys: String, CodingKey { case ipv4Address = "IPv4Address" }
        }
        public struct Endpoint: Encodable, Sendable, Equatable {
            public var ipamConfig: IPAMConfig?
            public var aliases: [String]?
            public init(ipamConfig: IPAMConfig?, aliases: [String]? = nil) {
                self.ipamConfig = ipamConfig
                self.aliases = aliases
            }
            enum CodingKeys: String, CodingKey { case ipamConfig = "IPAMConfig", aliases = "Aliases" }
        }
        public var endpointsConfig: [String: Endpoint]
        public init(endpointsConfig: [String: Endpoint]) { self.endpointsConfig = endpointsConfig }
        enum CodingKeys: String, CodingKey { case endpointsConfig = "EndpointsConfig" }
    }

    enum CodingKeys: String, CodingKey {
        case image = "Image", cmd = "Cmd", entrypoint = "Entrypoint", env = "Env", labels = "Labels"
        case exposedPorts = "ExposedPorts", stopTimeout = "StopTimeout", hostConfig = "HostConfig"
        case user = "User", workingDir = "WorkingDir", stopSignal = "StopSignal", networkingConfig = "NetworkingConfig"
    }
}

/// A `GET /events` message.
public struct EngineEvent: Decodable, Sendable, Equatable {
    public struct Actor: Decodable, Sendable, Equatable {
        public var id: String
        public var attributes: [String: String]
        enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
            attributes = try c.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        }
    }

    public var type: String
    /// `create`, `start`, `die`, `oom`, `kill`, `stop`, `destroy`, `exec_die`, `health_status: …`, …
    public var action: String
    public var actor: Actor
    public var timeNano: Int64

    enum CodingKeys: String, CodingKey { case type = "Type", action = "Action", actor = "Actor", timeNano }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? ""
        action = try c.decodeIfPresent(String.self, forKey: .action) ?? ""
        actor = try c.decode(Actor.self, forKey: .actor)
        timeNano = try c.decodeIfPresent(Int64.self, forKey: .timeNano) ?? 0
    }
}

/// One sample of `GET /containers/{id}/stats?stream=false&one-shot=true`.
public struct ContainerStats: Decodable, Sendable, Equatable {
    public struct CPU: Decodable, Sendable, Equatable {
        public struct Usage: Decodable, Sendable, Equatable {
            public var totalUsage: UInt64
            enum CodingKeys: String, CodingKey { case totalUsage = "total_usage" }
        }
        public var usage: Usage
        public var systemUsage: UInt64?
        public var onlineCpus: Int?
        enum CodingKeys: String, CodingKey { case usage = "cpu_usage", systemUsage = "system_cpu_usage", onlineCpus = "online_cpus" }
    }

    public struct Memory: Decodable, Sendable, Equatable {
        public var usage: Int64?
        public var limit: Int64?
        public var stats: [String: Int64]?
        enum CodingKeys: String, CodingKey { case usage, limit, stats }
    }

    public var cpu: CPU
    public var memory: Memory

    enum CodingKeys: String, CodingKey { case cpu = "cpu_stats", memory = "memory_stats" }

    /// Memory in use without the page cache, as `docker stats` shows it.
    public var memoryWorkingSetBytes: Int64? {
        guard let usage = memory.usage else { return nil }
        let cache = memory.stats?["inactive_file"] ?? memory.stats?["total_inactive_file"] ?? memory.stats?["cache"] ?? 0
        return max(0, usage - cache)
    }

    /// CPU use between two samples of one container, in percent of one core.
    public static func cpuPercent(from previous: ContainerStats, to current: ContainerStats) -> Double? {
        guard let systemNow = current.cpu.systemUsage, let systemBefore = previous.cpu.systemUsage, systemNow > systemBefore,
              current.cpu.usage.totalUsage >= previous.cpu.usage.totalUsage else { return nil }
        let cpus = Double(current.cpu.onlineCpus ?? 1)
        let used = Double(current.cpu.usage.totalUsage - previous.cpu.usage.totalUsage)
        return used / Double(systemNow - systemBefore) * cpus * 100
    }
}

struct ExecCreated: Decodable { var id: String; enum CodingKeys: String, CodingKey { case id = "Id" } }
struct ContainerCreated: Decodable { var id: String; enum CodingKeys: String, CodingKey { case id = "Id" } }

public struct ExecDetails: Decodable, Sendable, Equatable {
    public var running: Bool
    public var exitCode: Int?
    enum CodingKeys: String, CodingKey { case running = "Running", exitCode = "ExitCode" }
}

struct EngineMessage: Decodable { var message: String }
