/// Compose keys caas reads and checks (their references, their syntax) but does not deliver, or
/// delivers only on some clusters.
/// Validation says so at the key's line: a file that relies on them is told, never quietly
/// "valid": no silent half-support. Each entry goes when its feature is delivered.
enum UndeliveredKeys {
    /// Service keys, with what the user should know.
    static let service: [String: String] = [
        "links": "'links' resolve on clusters with node_subnets networking only: there the nodes' name servers answer a linked service's name and alias; on host networking they are not host names inside the container",
        "external_links": "'external_links' are checked but not delivered: they name containers outside the application, which caas does not resolve (an external: service or a routed address does)",
        "depends_on": "'depends_on' orders nothing in caas: every service starts at once, and restarts until what it needs is up",
        "expose": "'expose' restricts nothing in caas: containers share their node's network, so every port they listen on is reachable there",
    ]

    /// `deploy.restart_policy` keys.
    static let restartPolicy: [String: String] = [
        "delay": "'delay' is not modelled: caas restarts with its own exponential backoff; ignored",
        "window": "'window' is not modelled: caas counts every restart; ignored",
    ]

    /// `healthcheck` keys.
    static let healthcheck: [String: String] = [
        "start_interval": "'start_interval' is not supported by caas (checks run at 'interval' from the start); ignored",
    ]

    /// Warns at each key of `entries` that `table` names.
    static func warn(_ entries: [YEntry], _ table: [String: String], log: DiagnosticLog) {
        for entry in entries { if let message = table[entry.key] { log.warning(key: entry, message) } }
    }
}
