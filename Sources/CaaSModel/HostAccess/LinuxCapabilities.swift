/// The Linux capability names `cap_add` and a host policy may use, as the engine spells them
/// without the `CAP_` prefix (`NET_ADMIN`), plus `ALL`.
public enum LinuxCapabilities {
    public static let all: Set<String> = [
        "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
        "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
        "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT",
        "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM",
    ]

    /// `cap_net_admin`, `CAP_NET_ADMIN`, `NET_ADMIN` → `NET_ADMIN`; `all` → `ALL`; `nil` for a
    /// name that is no capability.
    public static func canonical(_ name: String) -> String? {
        var upper = name.uppercased()
        if upper == "ALL" { return upper }
        if upper.hasPrefix("CAP_") { upper.removeFirst(4) }
        return all.contains(upper) ? upper : nil
    }
}
