import CaaSAgent
import CaaSHTTP
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A multi-host test cluster (issue 15 item 6, ../shared/TESTING.md): `nodes` network
/// namespaces made by the test, each with its own dockerd *with* bridge networking and iptables
/// inside it, a veth from the test's namespace to each node (198.19.L.1/30 ↔ 198.19.L.2/30, L unique
/// per node of every cluster of the process) and a veth between every two nodes (198.19.0.X/30,
/// inside the nodes only). Clusters that run at once must route disjoint subnets: routes live in
/// the test process's one namespace. Nothing outside these namespaces changes except
/// the host-side veths and the routes the test asks for (`route`), which go with the veths.
///
/// Names carry the test process's pid (`caas-<pid hex>-…`), so `sweepLeftovers` removes what a
/// killed earlier run left and never what a running one holds. `destroy()` removes everything
/// (engines and their containers, namespaces, veths, routes); call it in a `defer`.
public final class NamespaceCluster: @unchecked Sendable {
    public struct Node: Sendable {
        /// 1-based.
        public var index: Int
        /// `caas-<pid>-<cluster>-n<index>`, under /run/netns.
        public var namespace: String
        public var engine: PrivateEngine
        /// The node's address on its link to the test's namespace (routes from there point here).
        public var address: String
        /// The test namespace's end of that link, and its interface name there.
        public var hostAddress: String
        public var hostInterface: String
        /// The node's address on its link to each other node, by that node's index.
        public var peerAddresses: [Int: String]
    }

    public let nodes: [Node]
    private let tag: String
    private var routes: [String] = []
    private let lock = NSLock()

    /// Why the namespace cluster cannot run here (a test is then disabled with this reason), or nil.
    public static var unavailableReason: String? {
        if getuid() != 0 { return "network namespaces need root" }
        for tool in ["ip", "nsenter", "iptables", "dockerd"] where which(tool) == nil {
            return "\(tool) is missing (scripts/install-deps.sh with CAAS_WITH_TEST_TOOLS=1 installs iproute2 and iptables)"
        }
        if !FileManager.default.isExecutableFile(atPath: "/bin/busybox") { return "/bin/busybox is missing (busybox-static)" }
        return nil
    }

    private static let counter = NSLock()
    nonisolated(unsafe) private static var started = 0
    nonisolated(unsafe) private static var swept = false
    /// The pid in six hex digits (pids are below 2^22), so a name tells its owner unambiguously.
    private static var pidTag: String { hex6(getpid()) }
    private static func hex6(_ pid: pid_t) -> String {
        let digits = String(pid, radix: 16)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    private init(nodes: [Node], tag: String) {
        self.nodes = nodes
        self.tag = tag
    }

    /// Starts `count` (2 or 3) nodes with their engines (the busybox test image imported) and links.
    /// Engines are named `<name>-<index>`. On any failure everything made so far is removed.
    public static func start(name: String, nodes count: Int = 2, client: HTTPClient) async throws -> NamespaceCluster {
        precondition((1...7).contains(count))
        if let reason = unavailableReason { throw NamespaceClusterError.unavailable(reason) }
        let serial: Int = counter.withLock {
            if !swept { PrivateEngine.cleanUpNamespaceLeftovers(); sweepLeftovers(); swept = true }
            started += 1
            return started
        }
        let tag = "\(pidTag)-\(serial)"
        // Interface names have at most 15 characters: "caas-" + pid hex (6) + serial + node.
        let hostInterface = { (k: Int) in "caas-\(pidTag)\(String(serial % 36, radix: 36))\(k)" }
        // Links to the test's namespace get 198.19.L.0/30 with L = 8 × (serial mod 30) + K, so
        // clusters running at once in one test process never share a link network.
        let linkOctet = { (k: Int) in 8 * (serial % 30) + k }
        var made: [Node] = []
        var namespaces: [String] = []
        do {
            for k in 1...count {
                let namespace = "caas-\(tag)-n\(k)"
                try run("ip", "netns", "add", namespace)
                namespaces.append(namespace)
                try run("ip", "-n", namespace, "link", "set", "lo", "up")
                let host = hostInterface(k)
                try run("ip", "link", "add", host, "type", "veth", "peer", "name", "caas-up", "netns", namespace)
                try run("ip", "addr", "add", "198.19.\(linkOctet(k)).1/30", "dev", host)
                try run("ip", "link", "set", host, "up")
                try run("ip", "-n", namespace, "addr", "add", "198.19.\(linkOctet(k)).2/30", "dev", "caas-up")
                try run("ip", "-n", namespace, "link", "set", "caas-up", "up")
                made.append(Node(index: k, namespace: namespace, engine: PrivateEngine(name: "", directory: ""), address: "198.19.\(linkOctet(k)).2",
                                 hostAddress: "198.19.\(linkOctet(k)).1", hostInterface: host, peerAddresses: [:]))
            }
            // Node to node: one /30 of 198.19.0.0/24 per pair.
            var pair = 0
            for a in 1...count {
                for b in (a + 1)..<(count + 1) where b > a {
                    let first = "198.19.0.\(pair * 4 + 1)", second = "198.19.0.\(pair * 4 + 2)"
                    try run("ip", "-n", made[a - 1].namespace, "link", "add", "caas-n\(b)", "type", "veth", "peer", "name", "caas-n\(a)",
                            "netns", made[b - 1].namespace)
                    try run("ip", "-n", made[a - 1].namespace, "addr", "add", first + "/30", "dev", "caas-n\(b)")
                    try run("ip", "-n", made[b - 1].namespace, "addr", "add", second + "/30", "dev", "caas-n\(a)")
                    try run("ip", "-n", made[a - 1].namespace, "link", "set", "caas-n\(b)", "up")
                    try run("ip", "-n", made[b - 1].namespace, "link", "set", "caas-n\(a)", "up")
                    made[a - 1].peerAddresses[b] = first
                    made[b - 1].peerAddresses[a] = second
                    pair += 1
                }
            }
            // The engines, concurrently; each node's default bridge gets 198.19.250.1/24 (inside the node only, never routed).
            let engines = try await withThrowingTaskGroup(of: (Int, PrivateEngine).self) { group in
                for node in made {
                    group.addTask {
                        let settings = PrivateEngine.NetworkNamespaceSettings(path: "/run/netns/" + node.namespace,
                                                                              bridgeAddress: "198.19.250.1/24")
                        let engine = try await PrivateEngine.start(name: "\(name)-\(node.index)", index: 9000 + serial * 10 + node.index,
                                                                   client: client, networkNamespace: settings)
                        return (node.index, engine)
                    }
                }
                var result: [Int: PrivateEngine] = [:]
                do {
                    for try await (index, engine) in group { result[index] = engine }
                } catch {
                    for engine in result.values { engine.destroy() }
                    throw error
                }
                return result
            }
            for k in 1...count { made[k - 1].engine = engines[k]! }
            let cluster = NamespaceCluster(nodes: made, tag: tag)
            do {
                let tar = try BusyboxImage.buildTar(in: made[0].engine.directory + "/image")
                for node in made {
                    // Docker's FORWARD policy drops routed traffic to containers: let the links in.
                    try run("ip", "netns", "exec", node.namespace, "iptables", "-I", "DOCKER-USER", "-i", "caas-+", "-j", "ACCEPT")
                    let engineClient = EngineClient(transport: HTTPClientTransport(client: client, endpoint: node.engine.endpoint))
                    try await BusyboxImage.install(into: engineClient, tar: tar)
                }
            } catch {
                cluster.destroy()
                throw error
            }
            return cluster
        } catch {
            for node in made where !node.engine.directory.isEmpty { node.engine.destroy() }
            for namespace in namespaces.reversed() { try? run("ip", "netns", "del", namespace) }
            for k in 1...count { try? run("ip", "link", "del", hostInterface(k), quiet: true) }
            throw error
        }
    }

    /// Routes `subnet` to node `index` (1-based): from the test's namespace through that node's
    /// link, and from every other node through the link between the two ("infrastructure routed",
    /// as a VPC route table does). Routes in the test's namespace are removed by `destroy()`.
    public func route(_ subnet: String, toNode index: Int) throws {
        let target = nodes[index - 1]
        try Self.run("ip", "route", "replace", subnet, "via", target.address, "dev", target.hostInterface)
        lock.withLock { routes.append(subnet) }
        for node in nodes where node.index != index {
            try Self.run("ip", "-n", node.namespace, "route", "replace", subnet, "via", target.peerAddresses[node.index]!)
        }
    }

    /// Runs `command` inside node `index`'s network namespace (not its other namespaces) and
    /// answers its exit status and output.
    public func exec(node index: Int, _ command: String...) throws -> (status: Int32, output: String) {
        try Self.capture(["ip", "netns", "exec", nodes[index - 1].namespace] + command)
    }

    /// Removes the engines (with their containers), the routes, the veths and the namespaces.
    public func destroy() {
        for node in nodes { node.engine.destroy() }
        for subnet in lock.withLock({ routes }) { try? Self.run("ip", "route", "del", subnet, quiet: true) }
        for node in nodes.reversed() {
            try? Self.run("ip", "netns", "del", node.namespace, quiet: true)
            try? Self.run("ip", "link", "del", node.hostInterface, quiet: true)
        }
    }

    /// Removes namespaces and host veths named `caas-<pid hex>…` whose test process is gone.
    public static func sweepLeftovers() {
        let mine = pidTag
        func stale(_ name: String) -> Bool {
            guard name.hasPrefix("caas-") else { return false }
            let hex = String(name.dropFirst(5).prefix(6))
            guard hex.count == 6, let pid = pid_t(hex, radix: 16) else { return false }
            return hex != mine && kill(pid, 0) != 0
        }
        let namespaces = ((try? capture(["ip", "netns", "list"]).output) ?? "").split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        for namespace in namespaces where namespace.hasPrefix("caas-") && namespace.split(separator: "-").count >= 3 && stale(namespace) {
            // Engines of that namespace are killed by PrivateEngine.cleanUpLeftovers (their directories).
            try? run("ip", "netns", "del", namespace, quiet: true)
        }
        let links = ((try? capture(["ip", "-o", "link", "show"]).output) ?? "").split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            return String(fields[1].split(separator: "@").first ?? "").replacingOccurrences(of: ":", with: "")
        }
        for link in links where link.hasPrefix("caas-") && stale(link) {
            try? run("ip", "link", "del", link, quiet: true)
        }
    }

    // MARK: Commands

    static func which(_ tool: String) -> String? {
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] where FileManager.default.isExecutableFile(atPath: directory + "/" + tool) {
            return directory + "/" + tool
        }
        return nil
    }

    static func run(_ arguments: String..., quiet: Bool = false) throws {
        let (status, output) = try capture(arguments)
        if status != 0, !quiet { throw NamespaceClusterError.command(arguments.joined(separator: " "), output) }
    }

    /// Runs a command and answers its status and output. Spawned with `posix_spawn` and waited
    /// for by its pid, not with Foundation's `Process`: with other tests starting processes at the
    /// same time, `Process.waitUntilExit` was seen to miss a child's exit and wait for ever. The
    /// output goes through a file, so no inherited pipe can hold the reader either.
    @discardableResult
    public static func capture(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caas-nscmd-\(getpid())-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let executable = which(arguments[0]) ?? arguments[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments.dropFirst()).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw NamespaceClusterError.command(arguments.joined(separator: " "), "posix_spawn: \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw NamespaceClusterError.command(arguments.joined(separator: " "), "waitpid: \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS; a signal's death counts as 128 + its number.
        let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return (code, text)
    }
}

public enum NamespaceClusterError: Error, CustomStringConvertible {
    case unavailable(String)
    case command(String, String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "the namespace cluster cannot run here: \(reason)"
        case .command(let command, let output): "`\(command)` failed: \(output)"
        }
    }
}
