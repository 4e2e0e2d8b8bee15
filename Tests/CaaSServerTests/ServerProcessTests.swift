import CaaSHTTP
import Foundation
import Testing

/// The built `caas-server` binary as operators run it: embedded PostgreSQL, migrations, tokens
/// printed once, health routes, one server per data directory, graceful stop on SIGTERM.
@Suite(.serialized) struct ServerProcessTests {
    static let binary = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/caas-server").path

    final class ServerProcess: @unchecked Sendable {
        let process = Process()
        let output: URL

        init(arguments: [String], environment: [String: String] = [:]) throws {
            output = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("caas-server-\(UUID().uuidString).log")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: ServerProcessTests.binary)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            for key in env.keys where key.hasPrefix("CAAS_") { env[key] = nil }
            // The agent channel on a port of its own, not the default 8443 another server may hold.
            env["CAAS_AGENT_LISTEN"] = "127.0.0.1:0"
            env.merge(environment) { _, new in new }
            process.environment = env
            let handle = try FileHandle(forWritingTo: output)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        func waitForExit(seconds: Double) async -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
            return process.isRunning ? nil : process.terminationStatus
        }

        func stop() {
            if process.isRunning { process.terminate() }
        }
    }

    static func freePort() throws -> Int {
        let probe = try HTTPServer(configuration: .init(addresses: [.tcp(host: "127.0.0.1", port: 0)]),
                                   responder: HTTPResponderClosure { _, _ in .text("") })
        try probe.start()
        let port = probe.port!
        Task { await probe.shutdown(gracePeriod: .zero) }
        return port
    }

    static func get(_ client: HTTPClient, _ port: Int, _ path: String) async throws -> HTTPClientResponse {
        try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(10))
    }

    static func waitUntilServing(_ client: HTTPClient, _ port: Int, _ server: ServerProcess) async throws {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if !server.process.isRunning { Issue.record("caas-server exited: \(server.log)"); return }
            if let response = try? await get(client, port, "/healthz"), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("caas-server did not come up: \(server.log)")
    }

    @Test func devServerStartsOnEmbeddedPostgresServesHealthAndStopsOnSIGTERM() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build caas-server first (swift build)")
        let dataDirectory = "/tmp/caas-srvtest-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let port = try Self.freePort()
        let client = try HTTPClient()
        let server = try ServerProcess(arguments: ["--dev", "--data-dir", dataDirectory, "--listen", "127.0.0.1:\(port)"])
        defer { server.stop() }
        try await Self.waitUntilServing(client, port, server)

        #expect(try await Self.get(client, port, "/healthz").bodyText == "ok\n")
        let ready = try await Self.get(client, port, "/readyz")
        #expect(ready.status == 200 && ready.bodyText == "ready\n")
        #expect(try await Self.get(client, port, "/v1/version").bodyText.contains("\"version\":\"0.1.0\""))

        // Both tokens are printed once, and the tenant token works on the API.
        let log = server.log
        let tenantToken = try #require(log.split(separator: "\n").first { $0.contains("dev tenant 'default' admin token") }?
            .split(separator: " ").last.map(String.init))
        #expect(log.contains("system administrator token"))
        var list = try HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/clusters")
        list.headers.set("Authorization", "Bearer \(tenantToken)")
        #expect(try await client.execute(list).status == 200)
        #expect(try await Self.get(client, port, "/v1/clusters").status == 401)

        // A second server on the same data directory is refused, and says why.
        let second = try ServerProcess(arguments: ["--data-dir", dataDirectory, "--listen", "127.0.0.1:0"])
        defer { second.stop() }
        #expect(await second.waitForExit(seconds: 60) == 1)
        #expect(second.log.contains("already in use"), "\(second.log)")

        // SIGTERM: a clean exit, and the embedded PostgreSQL stopped with it.
        server.process.terminate()
        #expect(await server.waitForExit(seconds: 60) == 0)
        #expect(server.log.contains("embedded PostgreSQL stopped"))
        #expect(!FileManager.default.fileExists(atPath: dataDirectory + "/postgres/pgdata/postmaster.pid"))
        #expect(FileManager.default.fileExists(atPath: dataDirectory + "/secrets.key"))

        // The next start reuses the database: no second system token is printed.
        let again = try ServerProcess(arguments: ["--data-dir", dataDirectory, "--listen", "127.0.0.1:\(port)"])
        defer { again.stop() }
        try await Self.waitUntilServing(client, port, again)
        #expect(!again.log.contains("system administrator token"))
        again.process.terminate()
        #expect(await again.waitForExit(seconds: 60) == 0)
        client.shutdown()
    }

    @Test func badSettingsExitWithTheSettingNamed() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build caas-server first (swift build)")
        let server = try ServerProcess(arguments: ["--listen", "127.0.0.1:99999"])
        #expect(await server.waitForExit(seconds: 30) != 0)
        #expect(server.log.contains("invalid port"), "\(server.log)")
        let external = try ServerProcess(arguments: ["migrate"], environment: ["CAAS_LOG_LEVEL": "shouting"])
        #expect(await external.waitForExit(seconds: 30) != 0)
        #expect(external.log.contains("CAAS_LOG_LEVEL"), "\(external.log)")
    }
}
