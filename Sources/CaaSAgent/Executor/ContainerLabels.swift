import CaaSModel

/// The labels that mark a container as caas's. Containers without them are never touched.
public enum ContainerLabels {
    public static let cluster = "caas.cluster"
    public static let tenant = "caas.tenant"
    public static let app = "caas.app"
    public static let service = "caas.service"
    public static let container = "caas.container"
    public static let generation = "caas.generation"
    public static let slot = "caas.slot"

    /// The labels an engine container gets for `desired` in `clusterId`; the spec's own labels
    /// come first so that ours cannot be overridden.
    public static func labels(for desired: DesiredContainer, clusterId: String) -> [String: String] {
        var labels = desired.labels.filter { !$0.key.hasPrefix("caas.") }
        labels[cluster] = clusterId
        labels[tenant] = desired.tenantId
        labels[app] = desired.appId
        labels[service] = desired.serviceName
        labels[container] = desired.containerId
        labels[generation] = String(desired.generation)
        labels[slot] = String(desired.slot)
        return labels
    }
}

/// Engine container names: `caas-<app>-<service>-<n>-<short id>`.
public enum ContainerNaming {
    public static func name(for desired: DesiredContainer) -> String {
        "caas-\(sanitize(desired.appName))-\(sanitize(desired.serviceName))-\(desired.slot)-\(shortId(desired.containerId))"
    }

    /// The first 8 characters after the type prefix (`ctr_k3v9…` → `k3v9…`).
    public static func shortId(_ containerId: String) -> String {
        let body = containerId.split(separator: "_", maxSplits: 1).last.map(String.init) ?? containerId
        return sanitize(String(body.prefix(8)))
    }

    /// Engine names allow `[a-zA-Z0-9_.-]`; anything else becomes `_`.
    static func sanitize(_ text: String) -> String {
        let mapped = text.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "-": Character(scalar)
            default: "_"
            }
        }
        return mapped.isEmpty ? "_" : String(mapped)
    }
}
