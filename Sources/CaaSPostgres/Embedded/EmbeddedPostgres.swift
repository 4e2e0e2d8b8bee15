import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server for `caas-server --dev` (no database URL configured) and for
/// tests: the server programs run on a data directory of ours, listening on a unix socket only.
///
/// Layout of the data directory `D` (created if missing):
/// - `D/pgdata`: the cluster (`initdb` on first start, reused afterwards);
/// - `D/embedded.lock`: an exclusive `flock` held for as long as this object runs the server, so
///   a second process (or a second instance) on the same directory is refused;
/// - `D/run`: the socket directory (or a private directory under /tmp when `D` is so deep that
///   the socket path would pass the 107-byte limit of unix socket paths);
/// - `D/postgres.log`: the server's log.
///
/// The methods block for seconds (initdb, pg_ctl): call them at start-up, or through the `async`
/// variants, which run them on a thread of their own.
///
/// `@unchecked Sendable`: mutable state (`lockDescriptor`, `running`) is guarded by `state`.
public final class EmbeddedPostgres: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The directory that holds everything (see the type's documentation).
        public var dataDirectory: String
        /// The application database, created on start if missing.
        public var database: String
        /// Keep `true` for anything that holds data: `false` (tests only) skips fsync.
        public var fsync: Bool
        /// Where initdb/pg_ctl/postgres are; nil searches (see ``PostgresBinaries``).
        public var binDirectory: String?
        /// Socket directory; nil uses `D/run` when short enough, else a private /tmp directory.
        public var socketDirectory: String?
        /// The port number (only names the socket file `.s.PGSQL.<port>`; no TCP).
        public var port: Int
        /// More server settings, passed as `-c name=value`.
        public var settings: [String: String]
        public var startTimeoutSeconds: Int

        public init(
            dataDirectory: String,
            database: String = "caas",
            fsync: Bool = true,
            binDirectory: String? = nil,
            socketDirectory: String? = nil,
            port: Int = 5432,
            settings: [String: String] = [:],
            startTimeoutSeconds: Int = 60
        ) {
            self.dataDirectory = dataDirectory
            self.database = database
            self.fsync = fsync
            self.binDirectory = binDirectory
            self.socketDirectory = socketDirectory
            self.port = port
            self.settings = settings
            self.startTimeoutSeconds = startTimeoutSeconds
        }
    }

    public enum StopMode: String, Sendable {
        /// Disconnect clients, shut down cleanly.
        case fast
        /// Abort at once (crash recovery on next start); for throw-away test clusters.
        case immediate
    }

    /// The database superuser created by initdb.
    public static let superuser = "postgres"
    /// Unix socket paths longer than this do not fit in `sockaddr_un`.
    static let maxSocketPathLength = 107

    public let configuration: Configuration
    public let binaries: PostgresBinaries
    public let socketDirectory: String
    public let clusterDirectory: String
    private let ownsSocketDirectory: Bool
    private let logger: Logger
    let state: Locked<(lockDescriptor: Int32, running: Bool)>

    /// URL of the application database.
    public var url: String { url(database: configuration.database) }

    /// URL of another database on this server.
    public func url(database: String) -> String {
        PostgresConfiguration.unixSocketURL(directory: socketDirectory, database: database, user: Self.superuser, port: configuration.port)
    }

    public var isRunning: Bool { state.withLock { $0.running } }

    private init(configuration: Configuration, binaries: PostgresBinaries, socketDirectory: String, ownsSocketDirectory: Bool, lockDescriptor: Int32, logger: Logger) {
        self.configuration = configuration
        self.binaries = binaries
        self.socketDirectory = socketDirectory
        self.ownsSocketDirectory = ownsSocketDirectory
        self.clusterDirectory = configuration.dataDirectory + "/pgdata"
        self.logger = logger
        self.state = Locked((lockDescriptor, false))
    }

    // MARK: Start

    /// Prepares the directory, initdb's it if new, starts the server and creates the database.
    public static func start(_ configuration: Configuration, logger: Logger = Logger(label: "caas.postgres.embedded")) throws -> EmbeddedPostgres {
        var configuration = configuration
        let fileManager = FileManager.default
        let directory = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
        configuration.dataDirectory = directory
        guard !directory.contains("'"), !directory.contains(",") else {
            throw PostgresError(kind: .configuration, message: "embedded PostgreSQL data directory \(directory) must not contain quotes or commas")
        }
        let binaries = try PostgresBinaries.locate(explicit: configuration.binDirectory)

        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw PostgresError(kind: .embedded, message: "cannot create data directory \(directory): \(error)")
        }
        let lockDescriptor = try acquireLock(directory: directory)
        do {
            try checkLayout(directory: directory)
            try CommandRunner.handToServerUser(directory)
            let (socketDirectory, ownsSocketDirectory) = try prepareSocketDirectory(configuration)
            let server = EmbeddedPostgres(
                configuration: configuration, binaries: binaries, socketDirectory: socketDirectory,
                ownsSocketDirectory: ownsSocketDirectory, lockDescriptor: lockDescriptor, logger: logger
            )
            do {
                try server.initializeIfNeeded()
                try server.stopOrphanedServer()
                try server.startServer()
                server.state.withLock { $0.running = true }
                try server.createDatabase(configuration.database)
            } catch {
                try? server.stop(mode: .immediate)
                server.releaseLock()
                throw error
            }
            logger.info("embedded PostgreSQL running", metadata: ["data": .string(directory), "socket": .string(socketDirectory)])
            return server
        } catch {
            close(lockDescriptor)
            throw error
        }
    }

    /// `start` on a thread of its own, for async callers.
    public static func launch(_ configuration: Configuration, logger: Logger = Logger(label: "caas.postgres.embedded")) async throws -> EmbeddedPostgres {
        let worker = WorkerThread(name: "caas-pg-embed")
        defer { worker.stop() }
        return try await worker.run { try start(configuration, logger: logger) }
    }

    /// Takes the exclusive lock on `D/embedded.lock`, or explains who holds it.
    private static func acquireLock(directory: String) throws -> Int32 {
        let path = directory + "/embedded.lock"
        // O_CLOEXEC: the server processes we spawn must not inherit (and outlive us holding) it.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw PostgresError(kind: .embedded, message: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw PostgresError(
                kind: .embedded,
                message: "embedded PostgreSQL data directory \(directory) is already in use by another process\(holder.isEmpty ? "" : " (pid \(holder))"): lock \(path) is held"
            )
        }
        let pid = "\(getpid())\n"
        ftruncate(descriptor, 0)
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
        return descriptor
    }

    /// Refuses a directory that is neither empty nor ours, so we never initdb over someone's files.
    private static func checkLayout(directory: String) throws {
        let known: Set<String> = ["pgdata", "pgdata.initdb", "embedded.lock", "postgres.log", "run"]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let foreign = entries.filter { !known.contains($0) }
        if !entries.contains("pgdata"), !foreign.isEmpty {
            throw PostgresError(
                kind: .embedded,
                message: "\(directory) is not empty and is not an embedded PostgreSQL directory (found \(foreign.sorted().prefix(5).joined(separator: ", ")))"
            )
        }
    }

    private static func prepareSocketDirectory(_ configuration: Configuration) throws -> (String, Bool) {
        let socketName = "/.s.PGSQL.\(configuration.port)"
        if let explicit = configuration.socketDirectory {
            guard explicit.utf8.count + socketName.utf8.count <= maxSocketPathLength else {
                throw PostgresError(kind: .configuration, message: "socket directory \(explicit) is too long for a unix socket path (limit \(maxSocketPathLength) bytes)")
            }
            try FileManager.default.createDirectory(atPath: explicit, withIntermediateDirectories: true)
            try CommandRunner.handToServerUser(explicit)
            return (explicit, false)
        }
        let inside = configuration.dataDirectory + "/run"
        if inside.utf8.count + socketName.utf8.count <= maxSocketPathLength {
            try FileManager.default.createDirectory(atPath: inside, withIntermediateDirectories: true)
            try CommandRunner.handToServerUser(inside)
            return (inside, false)
        }
        var template = Array("/tmp/caas-pg-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw PostgresError(kind: .embedded, message: "cannot create a socket directory under /tmp: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: made)
        try CommandRunner.handToServerUser(path)
        return (path, true)
    }

    private func initializeIfNeeded() throws {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: clusterDirectory + "/PG_VERSION") { return }
        if fileManager.fileExists(atPath: clusterDirectory) {
            throw PostgresError(kind: .embedded, message: "\(clusterDirectory) exists but holds no PostgreSQL cluster (no PG_VERSION); move it away")
        }
        // initdb into a scratch directory and rename: a crash mid-way never leaves a half cluster.
        let scratch = configuration.dataDirectory + "/pgdata.initdb"
        try? fileManager.removeItem(atPath: scratch)
        var arguments = [
            "-D", scratch, "-U", Self.superuser, "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=reject",
        ]
        if !configuration.fsync { arguments.append("--no-sync") }
        logger.info("initdb for embedded PostgreSQL", metadata: ["data": .string(clusterDirectory)])
        let output = try CommandRunner.run(binaries.initdb, arguments)
        guard output.status == 0 else {
            try? fileManager.removeItem(atPath: scratch)
            throw PostgresError(kind: .embedded, message: "initdb failed (exit \(output.status)): \(output.text.suffix(2000))")
        }
        do {
            try fileManager.moveItem(atPath: scratch, toPath: clusterDirectory)
        } catch {
            throw PostgresError(kind: .embedded, message: "cannot move the new cluster into \(clusterDirectory): \(error)")
        }
    }

    /// We hold the directory lock, so a server still running on this cluster was left behind by
    /// a process that died: stop it. A `postmaster.pid` naming a dead or foreign process is stale
    /// and removed.
    private func stopOrphanedServer() throws {
        let pidFile = clusterDirectory + "/postmaster.pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return }
        guard let pid = text.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) }), pid > 0 else {
            try? FileManager.default.removeItem(atPath: pidFile)
            return
        }
        if Self.isPostgresProcess(pid) {
            logger.warning("stopping a PostgreSQL server left running by an earlier process", metadata: ["pid": .stringConvertible(pid)])
            let output = try CommandRunner.run(binaries.pgCtl, ["-D", clusterDirectory, "-m", "fast", "-w", "-t", "30", "stop"])
            if output.status != 0 {
                kill(pid, SIGQUIT)
                for _ in 0..<100 where Self.isPostgresProcess(pid) { usleep(50_000) }
            }
        } else {
            logger.info("removing stale postmaster.pid", metadata: ["pid": .stringConvertible(pid)])
            try? FileManager.default.removeItem(atPath: pidFile)
        }
    }

    /// Whether `pid` is alive and runs a postgres program (not some unrelated process that got
    /// the pid later).
    static func isPostgresProcess(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        // A zombie has an empty cmdline: it is gone for our purposes.
        return String(decoding: data, as: UTF8.self).contains("postgres")
    }

    private func startServer() throws {
        var settings: [(String, String)] = [
            ("listen_addresses", ""),
            ("unix_socket_directories", socketDirectory),
            ("port", String(configuration.port)),
        ]
        if !configuration.fsync {
            settings += [("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off")]
        }
        settings += configuration.settings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let options = settings.map { "-c " + CommandRunner.shellQuote("\($0.0)=\($0.1)") }.joined(separator: " ")
        let output = try CommandRunner.run(binaries.pgCtl, [
            "-D", clusterDirectory, "-l", configuration.dataDirectory + "/postgres.log",
            "-w", "-t", String(configuration.startTimeoutSeconds), "-s", "-o", options, "start",
        ])
        guard output.status == 0 else {
            let log = (try? String(contentsOfFile: configuration.dataDirectory + "/postgres.log", encoding: .utf8)) ?? ""
            throw PostgresError(
                kind: .embedded,
                message: "pg_ctl start failed (exit \(output.status)): \(output.text.suffix(1000)) — server log: \(log.suffix(2000))"
            )
        }
    }

    /// Creates `name` unless it exists.
    public func createDatabase(_ name: String) throws {
        let connection = try PostgresConnection.connect(url: url(database: "postgres"), logger: logger)
        defer { connection.close() }
        let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
        guard exists.isEmpty else { return }
        do {
            try connection.execute("CREATE DATABASE \(try connection.escapeIdentifier(name))")
        } catch let error as PostgresError where error.sqlState == "42P04" {
            // duplicate_database: created meanwhile; fine.
        }
    }

    // MARK: Stop

    /// Stops the server (`pg_ctl stop`) and releases the directory lock. Idempotent.
    public func stop(mode: StopMode = .fast) throws {
        defer { releaseLock() }
        let wasRunning = state.withLock { state -> Bool in
            let running = state.running
            state.running = false
            return running
        }
        guard wasRunning || FileManager.default.fileExists(atPath: clusterDirectory + "/postmaster.pid") else { return }
        let output = try CommandRunner.run(binaries.pgCtl, ["-D", clusterDirectory, "-m", mode.rawValue, "-w", "-t", "60", "-s", "stop"])
        if output.status != 0, FileManager.default.fileExists(atPath: clusterDirectory + "/postmaster.pid") {
            throw PostgresError(kind: .embedded, message: "pg_ctl stop failed (exit \(output.status)): \(output.text.suffix(1000))")
        }
        logger.info("embedded PostgreSQL stopped", metadata: ["data": .string(configuration.dataDirectory)])
    }

    /// `stop` on a thread of its own, for async callers.
    public func shutdown(mode: StopMode = .fast) async throws {
        let worker = WorkerThread(name: "caas-pg-embed")
        defer { worker.stop() }
        try await worker.run { try self.stop(mode: mode) }
    }

    func releaseLock() {
        let descriptor = state.withLock { state -> Int32 in
            let descriptor = state.lockDescriptor
            state.lockDescriptor = -1
            return descriptor
        }
        guard descriptor >= 0 else { return }
        close(descriptor)
        if ownsSocketDirectory { try? FileManager.default.removeItem(atPath: socketDirectory) }
    }
}

extension EmbeddedPostgres {
    /// Starts a detached helper process (own session, stdio on /dev/null) and does not wait for
    /// it; used for watchdogs that clean up a server when its owner dies. Returns its pid.
    @discardableResult
    public static func spawnDetached(_ argv: [String]) throws -> Int32 {
        try CommandRunner.spawn(argv, newSession: true)
    }
}

extension EmbeddedPostgres {
    /// Tests only: forget the server as if this process had died (the lock is released, the
    /// server keeps running), to exercise the take-over of an orphaned server.
    public func releaseLockForTesting() {
        state.withLock { $0.running = false }
        releaseLock()
    }
}
