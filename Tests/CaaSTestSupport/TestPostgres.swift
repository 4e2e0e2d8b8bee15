import CaaSPostgres
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One private PostgreSQL server per test process, started lazily on first use, in a temporary
/// directory, with fsync off. Each suite takes a fresh database of its own, so suites run in
/// parallel:
/// ```swift
/// let db = try await TestPostgres.makeDatabase()
/// try await db.pool.withConnection { try $0.execute("CREATE TABLE t (id int)") }
/// ```
/// The server is stopped and its directory deleted when the process exits (`atexit`). If the
/// process is killed instead, a watchdog process (started with the server) does the same; and
/// the next test run removes any directory whose owner is gone.
public final class TestPostgres: Sendable {
    public static let shared = TestPostgres()

    /// Prefix of the temporary directories (under the system temp dir), used to find leftovers.
    static let directoryPrefix = "caas-testpg-"

    private enum Phase: Sendable {
        case idle
        case starting([CheckedContinuation<EmbeddedPostgres, Error>])
        case running(EmbeddedPostgres)
        case failed(String)
    }

    private let phase = LockedBox<Phase>(.idle)
    private let databaseCounter = LockedBox(0)

    private init() {}

    /// The running server (started on first call).
    public func server() async throws -> EmbeddedPostgres {
        try await withCheckedThrowingContinuation { continuation in
            enum Next { case resume(EmbeddedPostgres), fail(String), wait, start }
            let next = phase.withLock { phase -> Next in
                switch phase {
                case .running(let server): return .resume(server)
                case .failed(let message): return .fail(message)
                case .starting(var waiters):
                    waiters.append(continuation)
                    phase = .starting(waiters)
                    return .wait
                case .idle:
                    phase = .starting([continuation])
                    return .start
                }
            }
            switch next {
            case .resume(let server): continuation.resume(returning: server)
            case .fail(let message): continuation.resume(throwing: PostgresError(kind: .embedded, message: message))
            case .wait: break
            case .start:
                // initdb and pg_ctl block for seconds: keep them off the cooperative pool.
                let thread = Thread { [self] in self.startServer() }
                thread.name = "caas-testpg-start"
                thread.start()
            }
        }
    }

    /// A new, empty database with a unique name, and a pool on it.
    public func makeDatabase(label: String = "suite", maxConnections: Int = 8, acquireTimeout: Duration = .seconds(10)) async throws -> TestDatabase {
        let server = try await server()
        let number = databaseCounter.withLock { counter -> Int in
            counter += 1
            return counter
        }
        let safeLabel = String(label.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(30))
        let name = "test_\(number)_\(safeLabel)"
        let admin = PostgresPool(url: server.url(database: "postgres"), maxConnections: 1)
        defer { admin.shutdown() }
        try await admin.withConnection { connection in
            try connection.execute("CREATE DATABASE \(try connection.escapeIdentifier(name))")
        }
        let url = server.url(database: name)
        let pool = PostgresPool(
            configuration: .init(connection: PostgresConfiguration(url: url, applicationName: "caas-test"), maxConnections: maxConnections, acquireTimeout: acquireTimeout),
            logger: Logger(label: "caas.test.postgres")
        )
        return TestDatabase(name: name, url: url, pool: pool, server: server)
    }

    public static func makeDatabase(label: String = "suite", maxConnections: Int = 8, acquireTimeout: Duration = .seconds(10)) async throws -> TestDatabase {
        try await shared.makeDatabase(label: label, maxConnections: maxConnections, acquireTimeout: acquireTimeout)
    }

    // MARK: Start and clean up

    private func startServer() {
        let result: Result<EmbeddedPostgres, Error> = Result {
            Self.removeLeftovers()
            let directory = try Self.makeTemporaryDirectory()
            Self.startWatchdog(directory: directory)
            let server = try EmbeddedPostgres.start(
                .init(
                    dataDirectory: directory,
                    database: "postgres",
                    fsync: false,
                    settings: ["max_connections": "300", "shared_buffers": "32MB", "log_min_messages": "warning"]
                ),
                logger: Logger(label: "caas.test.postgres.embedded")
            )
            atexit { TestPostgres.shared.stopAtExit() }
            return server
        }
        let waiters = phase.withLock { phase -> [CheckedContinuation<EmbeddedPostgres, Error>] in
            guard case .starting(let waiters) = phase else { return [] }
            switch result {
            case .success(let server): phase = .running(server)
            case .failure(let error): phase = .failed("test PostgreSQL failed to start: \(error)")
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    private func stopAtExit() {
        let server = phase.withLock { phase -> EmbeddedPostgres? in
            guard case .running(let server) = phase else { return nil }
            phase = .failed("the test process is exiting")
            return server
        }
        guard let server else { return }
        try? server.stop(mode: .immediate)
        try? FileManager.default.removeItem(atPath: server.configuration.dataDirectory)
    }

    static var temporaryRoot: String {
        let root = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        // Keep socket paths short: a deep TMPDIR falls back to /tmp.
        return root.utf8.count > 40 ? "/tmp" : (root.hasSuffix("/") ? String(root.dropLast()) : root)
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("\(temporaryRoot)/\(directoryPrefix)XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw PostgresError(kind: .embedded, message: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// A detached shell that waits for this process to end, then kills the server (by the pid in
    /// `postmaster.pid`) and deletes the directory. Normally `atexit` has done both already.
    static func startWatchdog(directory: String) {
        let script = """
        while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
        [ -d '\(directory)' ] || exit 0
        pid=$(head -n 1 '\(directory)/pgdata/postmaster.pid' 2>/dev/null)
        [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null && sleep 1
        rm -rf '\(directory)'
        """
        _ = try? EmbeddedPostgres.spawnDetached(["/bin/sh", "-c", script])
    }

    /// Removes directories of earlier runs whose process is gone (their lock is free) and kills
    /// a server still running there. Directories younger than a minute are left alone: their
    /// owner may not have taken its lock yet.
    static func removeLeftovers() {
        let fileManager = FileManager.default
        let root = temporaryRoot
        guard let entries = try? fileManager.contentsOfDirectory(atPath: root) else { return }
        for entry in entries where entry.hasPrefix(directoryPrefix) {
            let directory = root + "/" + entry
            guard let attributes = try? fileManager.attributesOfItem(atPath: directory),
                  let modified = attributes[.modificationDate] as? Date,
                  Date().timeIntervalSince(modified) > 60
            else { continue }
            let lockPath = directory + "/embedded.lock"
            let descriptor = open(lockPath, O_RDWR | O_CLOEXEC)
            if descriptor >= 0 {
                defer { close(descriptor) }
                guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { continue } // owner alive
            }
            if let text = try? String(contentsOfFile: directory + "/pgdata/postmaster.pid", encoding: .utf8),
               let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }), pid > 0,
               let cmdline = fileManager.contents(atPath: "/proc/\(pid)/cmdline"),
               String(decoding: cmdline, as: UTF8.self).contains("postgres") {
                kill(pid, SIGQUIT)
                for _ in 0..<40 where kill(pid, 0) == 0 { usleep(50_000) }
            }
            try? fileManager.removeItem(atPath: directory)
        }
    }
}

/// A database of the test server, with a pool on it.
public struct TestDatabase: Sendable {
    public let name: String
    public let url: String
    public let pool: PostgresPool
    public let server: EmbeddedPostgres

    /// Another pool on the same database (e.g. with a different size or timeout).
    public func makePool(maxConnections: Int = 4, acquireTimeout: Duration = .seconds(10)) -> PostgresPool {
        PostgresPool(url: url, maxConnections: maxConnections, acquireTimeout: acquireTimeout)
    }
}

/// A value behind a lock (the test support's own; `@unchecked Sendable` because every access
/// goes through `withLock`, which holds the `NSLock`).
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
