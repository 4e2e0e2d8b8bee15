/// Host paths as the policy compares them: absolute, with `.`, `..`, `//` and trailing slashes
/// resolved the way the kernel resolves them (no symlinks: the control plane cannot see the node).
public enum HostPath {
    /// `/srv/data/../../etc/` → `/etc`; `//` → `/`; `..` above the root stays at the root.
    /// `nil` for a path that is not absolute (`./app`, `~/x`, `data`).
    public static func normalized(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Whether `path` is `prefix` or lies below it, component by component (`/srv/data` covers
    /// `/srv/data/x` but not `/srv/database`). Both are normalised first.
    public static func isWithin(_ path: String, _ prefix: String) -> Bool {
        guard let path = normalized(path), let prefix = normalized(prefix) else { return false }
        if prefix == "/" || path == prefix { return true }
        return path.hasPrefix(prefix + "/")
    }
}
