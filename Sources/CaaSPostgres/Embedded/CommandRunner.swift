import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the PostgreSQL server programs (initdb, pg_ctl), as the `postgres` OS user when this
/// process is root (the server refuses to run as root).
struct CommandRunner: Sendable {
    struct Output: Sendable {
        var status: Int32
        var text: String
    }

    /// The account the server programs run as when we are root.
    static let serverUser = "postgres"

    static var isRoot: Bool { geteuid() == 0 }

    /// Runs `executable` with `arguments`, waits, and returns its exit status and combined output.
    ///
    /// Uses `posix_spawn` + `waitpid` rather than Foundation's `Process` (whose `waitUntilExit`
    /// can hang on Linux when other children come and go). Output goes to a temporary file, not
    /// a pipe: `pg_ctl start` leaves a daemon behind that must not hold our pipe open.
    static func run(_ executable: String, _ arguments: [String], asServerUser: Bool = true) throws -> Output {
        var argv = [executable] + arguments
        if asServerUser && isRoot {
            guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw PostgresError(kind: .embedded, message: "running as root but runuser(1) was not found to run \(executable) as the \(serverUser) user")
            }
            argv = [runuser, "-u", serverUser, "--"] + argv
        }
        var template = Array("/tmp/caas-pg-output-XXXXXX".utf8CString)
        let outputDescriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard outputDescriptor >= 0 else {
            throw PostgresError(kind: .embedded, message: "cannot create a temporary file: \(String(cString: strerror(errno)))")
        }
        let outputPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer {
            close(outputDescriptor)
            unlink(outputPath)
        }
        let pid = try spawn(argv, stdoutPath: outputPath)
        let status = try wait(pid)
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        return Output(status: status, text: String(decoding: data, as: UTF8.self))
    }

    /// Starts `argv` with stdin from /dev/null and stdout+stderr appended to `stdoutPath`
    /// (default /dev/null); `newSession` detaches it from our session and terminal signals.
    @discardableResult
    static func spawn(_ argv: [String], stdoutPath: String = "/dev/null", newSession: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_APPEND, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Children start with default signal handling whatever the test runner installed.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newSession { flags |= Int32(0x80) } // POSIX_SPAWN_SETSID (glibc ≥ 2.26)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let cArguments = argv.map { strdup($0) }
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments + [nil], environ)
        guard result == 0 else {
            throw PostgresError(kind: .embedded, message: "cannot run \(argv[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Waits for `pid` and returns its exit status (128 + signal when killed).
    static func wait(_ pid: pid_t) throws -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw PostgresError(kind: .embedded, message: "waitpid failed: \(String(cString: strerror(errno)))")
            }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// uid and gid of the server user, when we are root and must hand directories to it.
    static func serverUserIDs() throws -> (uid: uid_t, gid: gid_t)? {
        guard isRoot else { return nil }
        guard let entry = getpwnam(serverUser) else {
            throw PostgresError(kind: .embedded, message: "running as root, but there is no '\(serverUser)' OS user to run PostgreSQL as")
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// Gives `path` to the server user (when root) with mode 0700.
    static func handToServerUser(_ path: String) throws {
        chmod(path, 0o700)
        if let ids = try serverUserIDs(), chown(path, ids.uid, ids.gid) != 0 {
            throw PostgresError(kind: .embedded, message: "cannot chown \(path) to \(serverUser): \(String(cString: strerror(errno)))")
        }
    }

    /// Quotes a word for /bin/sh (pg_ctl passes `-o` options through the shell).
    static func shellQuote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
