import CaaSHTTP
import CaaSPostgres
import CaaSServer
import CaaSStore
import CaaSTestSupport
import CaaSWorkersTestSupport
import Foundation
import Logging

/// The control plane on a fresh migrated PostgreSQL database, served by CaaSHTTP's server on a
/// loopback port: what caasctl talks to in these tests (the same responder caas-server mounts).
final class LiveServer: Sendable {
    let plane: ControlPlane
    let server: HTTPServer
    let systemToken: String
    let url: String
    let database: PostgresConfiguration

    private init(plane: ControlPlane, server: HTTPServer, systemToken: String, database: PostgresConfiguration) {
        self.database = database
        self.plane = plane
        self.server = server
        self.systemToken = systemToken
        self.url = "http://127.0.0.1:\(server.port!)"
    }

    static func start(_ label: String) async throws -> LiveServer {
        let database = try await TestPostgres.makeDatabase(label: label)
        let migrator = try Migrator(pool: database.pool, directory: Self.migrations.path)
        _ = try await migrator.migrate()
        var settings = TenancySettings()
        settings.authFailureBurst = 1000
        settings.rateLimitBurst = 10_000
        settings.rateLimitPerSecond = 10_000
        let token = try TokenSecret.generate()
        settings.bootstrapToken = token
        var logger = Logger(label: "caasctl.tests")
        logger.logLevel = .critical
        // The agent channel's routes without a channel (every handler answers 503): enough to
        // check the requests caasctl makes there, e.g. `logs` with `follow` and `tail`.
        let plane = ControlPlane(store: Store(source: database.pool), settings: settings, additionalRoutes: AgentChannelRoutes.all(nil),
                                 logger: logger)
        try await plane.bootstrap(print: { _ in })
        let server = try HTTPServer(configuration: HTTPServerConfiguration(addresses: [.tcp(host: "127.0.0.1", port: 0)], eventLoopCount: 1),
                                    responder: plane.makeResponder(), logger: logger)
        try server.start()
        return LiveServer(plane: plane, server: server, systemToken: token, database: database.pool.configuration.connection)
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var migrations: URL { packageRoot.appendingPathComponent("migrations") }

    /// Runs the scheduler's workers in-process with the shared test agent (CaaSWorkersTestSupport,
    /// as in CaaSServerTests' WorkersHarness) for `clusterID`: it acknowledges pushes and reports
    /// containers running (or exited, for `failing` images), so rollouts end.
    func startWorkers(clusterID: String, nodeIDs: [String], failing: Set<String> = []) async throws -> LiveWorkers {
        let listener = PostgresListener(configuration: database)
        let signal = PostgresJobSignal(listener: listener)
        try await signal.start()
        let agent = WorkersTestAgent(clusterID: clusterID, secret: "agent-secret", nodes: nodeIDs)
        await agent.setFailing(failing)
        var logger = Logger(label: "caasctl.tests.workers")
        logger.logLevel = .critical
        let endpoints = AgentEndpoints(store: plane.store, authenticator: StaticAgentAuthenticator(clusters: ["agent-secret": clusterID]),
                                       signal: signal, secretsKey: plane.secretsKey, logger: logger)
        await agent.attach(endpoints)
        let directory = StaticAgentDirectory()
        directory.register(agent, for: clusterID)
        try await agent.heartbeat()
        let workers = SchedulerWorkers(store: plane.store, database: database, agents: directory, secretsKey: plane.secretsKey,
                                       settings: .forTests("caasctl-r1"),
                                       signal: signal, logger: logger)
        let run = Task { await workers.run() }
        let beats = Task {
            while !Task.isCancelled {
                try? await agent.heartbeat()
                try? await Task.sleep(nanoseconds: 300_000_000)
            }
        }
        return LiveWorkers(agent: agent, tasks: [run, beats], signal: signal, listener: listener)
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Creates a tenant with one token per role, through caasctl itself (as the system
    /// administrator would); returns the secrets by role.
    func makeTenant(_ name: String, home: CaasctlHome) throws -> [String: String] {
        let admin = ["CAAS_SERVER": url, "CAAS_TOKEN": systemToken]
        let created = try home.run(["tenant", "create", name, "-q"], environment: admin)
        precondition(created.status == 0, "tenant create failed: \(created.stderr)")
        var tokens: [String: String] = [:]
        for role in ["admin", "operator", "viewer"] {
            let token = try home.run(["token", "create", "\(role)-1", "--role", role, "--tenant", name, "-q"], environment: admin)
            precondition(token.status == 0, "token create failed: \(token.stderr)")
            tokens[role] = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return tokens
    }
}

/// The workers and test agent `LiveServer.startWorkers` runs.
struct LiveWorkers: Sendable {
    let agent: WorkersTestAgent
    let tasks: [Task<Void, Never>]
    let signal: PostgresJobSignal
    let listener: PostgresListener

    func stop() async {
        for task in tasks { task.cancel(); await task.value }
        signal.stop()
        listener.shutdown()
    }
}

/// What a finished caasctl process left.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A private HOME/XDG_CONFIG_HOME and working directory for caasctl processes.
struct CaasctlHome: Sendable {
    let directory: String

    init() {
        directory = NSTemporaryDirectory() + "caasctl-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
    }

    var configPath: String { directory + "/config/caas/config.json" }

    /// Runs the built caasctl with this home's configuration under a pseudo-terminal (`script`) in
    /// `directory`, with a clean environment plus `environment` and `TERM=xterm-256color`: its exit
    /// status and everything it wrote.
    func runOnTerminal(_ arguments: [String], in directory: String, environment: [String: String]) throws -> (status: Int32, text: String) {
        let command = ([Self.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-q", "-e", "-c", command, "/dev/null"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CAAS_") && $0.key != "NO_COLOR" && $0.key != "COLUMNS" }
        env.merge(environment) { $1 }
        env["TERM"] = "xterm-256color"
        env["XDG_CONFIG_HOME"] = self.directory + "/config"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The built caasctl: next to the test bundle (`.build/<config>/`), or `CAASCTL_BINARY`.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["CAASCTL_BINARY"] { return path }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("caasctl").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return LiveServer.packageRoot.appendingPathComponent(".build/debug/caasctl").path
    }

    /// Runs caasctl with `arguments` in `work/` (or `directory`), its environment cleared of
    /// anything caas-related except what `environment` sets; stdin from `input`.
    func run(_ arguments: [String], environment: [String: String] = [:], in workingDirectory: String? = nil,
             input: String? = nil, timeout: Duration = .seconds(60)) throws -> ProcessResult {
        let process = makeProcess(arguments, environment: environment, in: workingDirectory)
        let out = Pipe(), err = Pipe(), stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        // Read both pipes while the process runs, so a full pipe never blocks it.
        let outData = Box(), errData = Box()
        let group = DispatchGroup()
        for (handle, box) in [(out.fileHandleForReading, outData), (err.fileHandleForReading, errData)] {
            group.enter()
            DispatchQueue.global().async {
                box.set(handle.readDataToEndOfFile())
                group.leave()
            }
        }
        let seconds = Double(timeout.components.seconds)
        if group.wait(timeout: .now() + seconds) == .timedOut {
            process.terminate()
            group.wait()
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                             stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Starts caasctl as `run` does, without waiting: its output is collected as it comes.
    func start(_ arguments: [String], environment: [String: String] = [:], in workingDirectory: String? = nil) throws -> RunningCaasctl {
        let process = makeProcess(arguments, environment: environment, in: workingDirectory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let outData = Box(), errData = Box()
        for (handle, box) in [(out.fileHandleForReading, outData), (err.fileHandleForReading, errData)] {
            handle.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { box.append(data) }
            }
        }
        try process.run()
        return RunningCaasctl(process: process, stdout: outData, stderr: errData)
    }

    private func makeProcess(_ arguments: [String], environment: [String: String], in workingDirectory: String?) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory ?? directory + "/work")
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CAAS_") && $0.key != "NO_COLOR" && $0.key != "COMPOSE_PROJECT_NAME" }
        env["HOME"] = directory
        env["XDG_CONFIG_HOME"] = directory + "/config"
        env.merge(environment) { $1 }
        process.environment = env
        return process
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A caasctl process `CaasctlHome.start` started.
final class RunningCaasctl {
    private let process: Process
    private let out: Box
    private let err: Box

    init(process: Process, stdout: Box, stderr: Box) {
        self.process = process
        self.out = stdout
        self.err = stderr
    }

    /// Standard output so far.
    var stdout: String { String(decoding: out.get(), as: UTF8.self) }
    var stderr: String { String(decoding: err.get(), as: UTF8.self) }
    var isRunning: Bool { process.isRunning }

    /// Waits until `condition` holds of the standard output so far, or `timeout` passes; whether it held.
    func wait(until condition: (String) -> Bool, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while !condition(stdout) {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(100))
        }
        return true
    }

    /// Ends the process (SIGTERM) and waits for it.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

/// Data handed from a reader thread.
final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    func append(_ value: Data) { lock.lock(); data.append(value); lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
