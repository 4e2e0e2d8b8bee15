import CaaSPostgres
import CaaSTestSupport
import Foundation
import Testing

@Suite("EmbeddedPostgres: init, reuse, exclusivity")
struct EmbeddedTests {
    func makeDirectory(deep: Bool = false) throws -> String {
        var path = "/tmp/caas-embedded-test-\(UUID().uuidString.prefix(8))"
        // Deep enough that <dir>/run/.s.PGSQL.5432 passes the 107-byte socket path limit.
        if deep { path += "/" + String(repeating: "d", count: 60) + "/" + String(repeating: "e", count: 30) }
        return path
    }

    @Test func startsReusesAndRefusesASecondInstance() async throws {
        let directory = try makeDirectory(deep: true)
        defer { try? FileManager.default.removeItem(atPath: directory.components(separatedBy: "/").prefix(3).joined(separator: "/")) }
        let configuration = EmbeddedPostgres.Configuration(dataDirectory: directory, database: "app", fsync: false)

        let first = try await EmbeddedPostgres.launch(configuration)
        #expect(first.url.contains("app"))
        #expect(!first.socketDirectory.hasPrefix(directory), "a deep directory gets a short socket directory")
        let pool = PostgresPool(url: first.url, maxConnections: 1)
        try await pool.withConnection { conn in
            try conn.execute("CREATE TABLE kept (v text)")
            try conn.execute("INSERT INTO kept VALUES ($1)", ["survives restarts"])
        }
        pool.shutdown()

        // A second server on the same directory is refused while the first runs.
        let refused = await #expect(throws: PostgresError.self) { _ = try await EmbeddedPostgres.launch(configuration) }
        #expect(refused?.kind == .embedded)
        #expect(refused?.message.contains("already in use") == true)

        try await first.shutdown()
        #expect(!first.isRunning)

        // The next start reuses the cluster (no initdb): the data is still there.
        let second = try await EmbeddedPostgres.launch(configuration)
        let pool2 = PostgresPool(url: second.url, maxConnections: 1)
        let value = try await pool2.withConnection { try $0.query("SELECT v FROM kept")[0].decode("v", as: String.self) }
        #expect(value == "survives restarts")
        pool2.shutdown()
        try await second.shutdown()
    }

    @Test func aStalePostmasterPidFromACrashIsHandled() async throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = EmbeddedPostgres.Configuration(dataDirectory: directory, fsync: false)
        let server = try await EmbeddedPostgres.launch(configuration)
        try await server.shutdown()
        // Simulate a crash: a postmaster.pid naming a process that is long gone.
        let pidFile = directory + "/pgdata/postmaster.pid"
        try "999999\n\(directory)/pgdata\n1700000000\n5432\n\(directory)/run\n\n  5432001 0\nready\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        let restarted = try await EmbeddedPostgres.launch(configuration)
        let pool = PostgresPool(url: restarted.url, maxConnections: 1)
        #expect(try await pool.withConnection { try $0.query("SELECT 1 AS one")[0].decode("one", as: Int.self) } == 1)
        pool.shutdown()
        try await restarted.shutdown()
    }

    @Test func aServerLeftRunningByADeadOwnerIsTakenOver() async throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = EmbeddedPostgres.Configuration(dataDirectory: directory, fsync: false)
        let orphan = try await EmbeddedPostgres.launch(configuration)
        // The owner "dies" without stopping the server: only its lock goes away.
        orphan.releaseLockForTesting()
        let successor = try await EmbeddedPostgres.launch(configuration)
        let pool = PostgresPool(url: successor.url, maxConnections: 1)
        #expect(try await pool.withConnection { try $0.query("SELECT 1 AS one")[0].decode("one", as: Int.self) } == 1)
        pool.shutdown()
        try await successor.shutdown()
    }

    @Test func aForeignNonEmptyDirectoryIsRefused() async throws {
        let directory = try makeDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "precious".write(toFile: directory + "/notes.txt", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = await #expect(throws: PostgresError.self) {
            _ = try await EmbeddedPostgres.launch(.init(dataDirectory: directory, fsync: false))
        }
        #expect(error?.message.contains("not empty") == true)
    }

    @Test func binariesAreFoundByHighestVersion() throws {
        let binaries = try PostgresBinaries.locate()
        #expect(FileManager.default.isExecutableFile(atPath: binaries.pgCtl))
        #expect(PostgresBinaries.versionKey("15").lexicographicallyPrecedes(PostgresBinaries.versionKey("16")))
        #expect(PostgresBinaries.versionKey("9.6").lexicographicallyPrecedes(PostgresBinaries.versionKey("15")))
    }
}
