import CaaSAgent
import CaaSHTTP
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private `dockerd` for tests: its own data root, exec root, pidfile, socket and cgroup
/// parent under a short directory `/tmp/caas-eng-<test pid>-<n>`, no bridge and no iptables
/// (TESTING.md). A watchdog shell stops it when the test process dies, however it dies.
public final class PrivateEngine: Sendable {
    public let name: String
    public let directory: String
    /// Set when the engine also listens on `tcp://127.0.0.1:<port>` with `--tlsverify`.
    public let tls: EngineTLS?
    public var socketPath: String { directory + "/docker.sock" }
    public var endpoint: EngineEndpoint { .unixSocket(path: socketPath) }
    public var cgroupParent: String { "/" + (directory as NSString).lastPathComponent }
    /// Set for an engine inside a test-made network namespace (`NamespaceCluster`): dockerd
    /// enters only that network namespace and runs with bridge networking and iptables there.
    public let networkNamespace: NetworkNamespaceSettings?

    /// How an engine in a network namespace is started: the namespace's path (`/run/netns/…`)
    /// and the address of its default bridge (`--bip`).
    public struct NetworkNamespaceSettings: Sendable {
        public var path: String
        public var bridgeAddress: String
        public init(path: String, bridgeAddress: String) {
            self.path = path
            self.bridgeAddress = bridgeAddress
        }
    }

    static let prefix = "/tmp/caas-eng-"
    static let nsPrefix = "/tmp/caas-nseng-"

    /// Stops and removes namespace-cluster engines whose test process is gone.
    static func cleanUpNamespaceLeftovers() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/tmp") else { return }
        for entry in entries where ("/tmp/" + entry).hasPrefix(nsPrefix) {
            let directory = "/tmp/" + entry
            let owner = entry.dropFirst((nsPrefix as NSString).lastPathComponent.count).split(separator: "-").first.flatMap { pid_t($0) }
            guard let owner, owner != getpid(), kill(owner, 0) != 0 else { continue }
            PrivateEngine(name: entry, directory: directory).stop(timeoutSeconds: 5)
            cleanUp(directory: directory)
        }
    }

    init(name: String, directory: String, tls: EngineTLS? = nil, networkNamespace: NetworkNamespaceSettings? = nil) {
        self.name = name
        self.directory = directory
        self.tls = tls
        self.networkNamespace = networkNamespace
    }

    /// Starts the engine and waits until `/_ping` answers (on its unix socket). With `tls`, it
    /// also listens on a free loopback port with `--tlsverify` and certificates made in its
    /// directory (`EngineTLS`).
    public static func start(name: String, index: Int, client: HTTPClient, tls: Bool = false,
                             networkNamespace: NetworkNamespaceSettings? = nil) async throws -> PrivateEngine {
        // Engines in namespaces live apart (`nsPrefix`): `cleanUpLeftovers` of the shared harness
        // stops this process's own engines under `prefix`, and must never stop a namespace cluster's.
        let directory = "\(networkNamespace == nil ? prefix : nsPrefix)\(getpid())-\(index)"
        removeTree(directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let engine = PrivateEngine(name: name, directory: directory, tls: tls ? try EngineTLS.make(in: directory + "/tls") : nil,
                                   networkNamespace: networkNamespace)
        try engine.launch()
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        let probe = EngineClient(transport: HTTPClientTransport(client: client, endpoint: engine.endpoint))
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                try await probe.ping(timeoutSeconds: 1)
                return engine
            } catch {
                lastError = error
            }
            if !engine.isRunning, engine.pid != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: directory + "/dockerd.log", encoding: .utf8)) ?? ""
        engine.stop()
        throw EngineHarnessError.engineDidNotStart(name: name, reason: "\(lastError.map { "\($0)" } ?? "no answer")\n\(log.suffix(3000))")
    }

    private func launch() throws {
        var arguments = [
            "dockerd", "--data-root", directory + "/root", "--exec-root", directory + "/exec",
            "--pidfile", directory + "/dockerd.pid", "-H", "unix://" + socketPath,
            "--storage-driver=overlay2", "--cgroup-parent=" + cgroupParent, "--shutdown-timeout=3",
            "--userland-proxy=false",
        ]
        if let networkNamespace {
            // Only the network namespace: `ip netns exec` would also remount /sys (TESTING.md).
            arguments = ["nsenter", "--net=" + networkNamespace.path] + arguments + ["--bip", networkNamespace.bridgeAddress, "--ip6tables=false"]
        } else {
            arguments += ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"]
        }
        if let tls {
            arguments += ["-H", "tcp://127.0.0.1:\(tls.port)", "--tlsverify", "--tlscacert", tls.caCertificate,
                          "--tlscert", tls.serverCertificate, "--tlskey", tls.serverKey]
        }
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        // dockerd runs as a child of this shell; the shell stops it when the test process goes.
        // The pid file appears whole (written aside, then renamed): a half-written one read as a
        // pid of no process made a starting engine look dead.
        let script = """
        \(quoted) >'\(directory)/dockerd.log' 2>&1 &
        d=$!
        echo $d > '\(directory)/dockerd.wpid.new' && mv '\(directory)/dockerd.wpid.new' '\(directory)/dockerd.wpid'
        while kill -0 \(getpid()) 2>/dev/null && kill -0 $d 2>/dev/null; do sleep 0.5; done
        kill -TERM $d 2>/dev/null
        for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $d 2>/dev/null || break; sleep 0.5; done
        kill -KILL $d 2>/dev/null
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    public var pid: pid_t? {
        guard let text = try? String(contentsOfFile: directory + "/dockerd.wpid", encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    public var isRunning: Bool {
        guard let pid else { return false }
        return kill(pid, 0) == 0
    }

    /// SIGTERM, up to `timeoutSeconds`, then SIGKILL; the engine's files stay (see `destroy`).
    public func stop(timeoutSeconds: Double = 10) {
        guard let pid else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while kill(pid, 0) == 0, Date() < deadline { usleep(50_000) }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }

    /// Stops the engine and removes everything it left.
    public func destroy() {
        stop()
        Self.cleanUp(directory: directory)
    }

    /// Stops engines (and their containers) left by earlier test processes that were killed.
    public static func cleanUpLeftovers() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/tmp") else { return }
        for entry in entries where ("/tmp/" + entry).hasPrefix(prefix) {
            let directory = "/tmp/" + entry
            let owner = entry.dropFirst((prefix as NSString).lastPathComponent.count).split(separator: "-").first.flatMap { pid_t($0) }
            // Only directories named by this harness (`caas-eng-<pid>-<index>`); others are not ours.
            guard let owner else { continue }
            if owner != getpid(), kill(owner, 0) == 0, isTestProcess(owner) { continue }
            let engine = PrivateEngine(name: entry, directory: directory)
            engine.stop(timeoutSeconds: 5)
            cleanUp(directory: directory)
        }
    }

    private static func isTestProcess(_ pid: pid_t) -> Bool {
        let commandLine = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        return commandLine.contains("xctest") || commandLine.contains("PackageTests") || commandLine.contains("swift-testing")
    }

    /// Kills whatever still runs from `directory` (containerd, shims, container processes in
    /// the engine's cgroup parent), unmounts what is mounted beneath it, and removes it.
    static func cleanUp(directory: String) {
        let name = (directory as NSString).lastPathComponent
        for _ in 0..<3 {
            var killed = false
            for pid in processes(mentioning: directory) + processes(inCgroup: name) {
                kill(pid, SIGKILL)
                killed = true
            }
            if !killed { break }
            usleep(200_000)
        }
        for controller in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            let parent = "/sys/fs/cgroup/\(controller)/\(name)"
            for child in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where !child.contains(".") {
                rmdir(parent + "/" + child)
            }
            rmdir(parent)
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let beneath = mounts.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            return point.hasPrefix(directory + "/") ? point : nil
        }
        for point in beneath.sorted(by: { $0.count > $1.count }) { umount2(point, Int32(MNT_DETACH)) }
        removeTree(directory)
    }

    private static func processes(mentioning text: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return commandLine.contains(text) && !commandLine.hasPrefix("/bin/sh -c") ? pid : nil
        }
    }

    private static func processes(inCgroup name: String) -> [pid_t] {
        var pids: [pid_t] = []
        let root = "/sys/fs/cgroup/pids/\(name)"
        for child in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            let text = (try? String(contentsOfFile: "\(root)/\(child)/cgroup.procs", encoding: .utf8)) ?? ""
            pids += text.split(separator: "\n").compactMap { pid_t($0) }
        }
        return pids
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

public enum EngineHarnessError: Error, CustomStringConvertible {
    case engineDidNotStart(name: String, reason: String)
    case imageBuildFailed(String)

    public var description: String {
        switch self {
        case .engineDidNotStart(let name, let reason): "dockerd \(name) did not start: \(reason)"
        case .imageBuildFailed(let reason): "busybox image: \(reason)"
        }
    }
}
