/// One thing a compose file asks of the node beyond an ordinary container: what a tenant's
/// `HostPolicy` rules on.
public enum HostAccess: Sendable, Equatable, Hashable {
    /// A bind mount of this host path (as written: relative paths are refused).
    case bind(String)
    /// The node's network: `network_mode: host`, or no `network_mode` (caas's default today), or
    /// `service:NAME`.
    case hostNetwork
    /// `privileged: true`.
    case privileged
    /// One `cap_add` entry, canonical (`NET_ADMIN`, or `ALL`).
    case capability(String)
    /// A `devices` entry's host path.
    case device(String)
    /// `pid: host`.
    case hostPID
    /// `ipc: host`.
    case hostIPC
    /// A `security_opt` entry that lifts confinement (`seccomp=unconfined`, …), a host
    /// namespace beyond PID and IPC (`uts: host`, `userns_mode: host`, `cgroup: host`) or a
    /// `device_cgroup_rules` entry: as much as privileged mode gives, so ruled on like it. The
    /// text is what the compose file says (`security_opt 'seccomp=unconfined'`).
    case unconfined(String)
    /// A top-level volume with `external: true` (its engine name).
    case externalVolume(String)
}
