import CaaSAgent
import CaaSEngineSupport
import Foundation
import Testing

/// The built `caas-agent` executable against the in-process control plane: `join` with the
/// cluster's token, `run` with one engine, a deployed container running, SIGTERM leaves it running.
@Suite(.serialized) struct AgentBinaryTests {
    /// Next to the test bundle (`.build/<config>/caas-agent`), or `CAAS_AGENT_BINARY`.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["CAAS_AGENT_BINARY"] { return path }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("caas-agent").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/caas-agent").path
    }

    static func run(_ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    @Test(.timeLimit(.minutes(2)))
    func theBuiltAgentJoinsRunsAndStopsWithoutStoppingContainers() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build caas-agent first: \(Self.binary)")
        async let engineStarting = EngineHarness.shared.engine("e2e-bin")
        let cp = try await ControlPlaneUnderTest.start("e2e_bin")
        let engine = try await engineStarting
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("caas-e2e-bin-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        var agent: Process?
        var clusterID = ""
        do {
            let tenant = try await cp.makeTenant("bin")
            let cluster = try await cp.call(.post, "/v1/clusters", token: tenant.admin, body: ["name": "bin"])
            clusterID = try #require(cluster["id"] as? String)
            let port = Int.random(in: 30_000..<32_000)
            let joinToken = try #require(cluster["join_token"] as? String)
            // Over plain http:// a join without a way to check the answer is refused before sending.
            let blind = try Self.run(["join", "--server", cp.apiURL, "--token", joinToken, "--state-dir", work + "/state"], log: work + "/blind.log")
            blind.waitUntilExit()
            #expect(blind.terminationStatus != 0)
            #expect(((try? String(contentsOfFile: work + "/blind.log", encoding: .utf8)) ?? "").contains("--ca-fingerprint"))
            // The fingerprint an administrator reads over the API is what the agent checks.
            let trust = try await cp.call(.get, "/v1/clusters/\(clusterID)/agent/trust", token: tenant.admin)
            let fingerprint = try #require(trust["control_plane_ca_sha256"] as? String, "\(trust.text)")
            let wrong = try Self.run(["join", "--server", cp.apiURL, "--token", joinToken, "--ca-fingerprint", String(repeating: "ab", count: 32),
                                      "--state-dir", work + "/state"], log: work + "/wrong.log")
            wrong.waitUntilExit()
            #expect(wrong.terminationStatus != 0, "a join answered by another CA than the expected one is not kept")
            let join = try Self.run(["join", "--server", cp.apiURL, "--token", joinToken, "--ca-fingerprint", fingerprint,
                                     "--state-dir", work + "/state", "--listen", "127.0.0.1:\(port)"], log: work + "/join.log")
            join.waitUntilExit()
            let joinLog = (try? String(contentsOfFile: work + "/join.log", encoding: .utf8)) ?? ""
            #expect(join.terminationStatus == 0, "\(joinLog)")
            #expect(joinLog.contains("joined cluster \(clusterID)"))
            #expect(joinLog.contains("sha256 \(fingerprint)"))

            agent = try Self.run(["run", "--state-dir", work + "/state", "--listen", "127.0.0.1:\(port)",
                                  "--node", "bin-1=unix://" + engine.socketPath, "--log-level", "warning"], log: work + "/run.log")
            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator, body: [
                "name": "bin", "cluster_id": clusterID,
                "compose": "services:\n  web:\n    image: caas-test/busybox:latest\n    command: [\"sleep\", \"600\"]\n",
            ])
            #expect(app.status == 202 || app.status == 201, "\(app.text)")
            let up = await eventually(.seconds(30)) { await EndToEndTests.running([engine], cluster: clusterID).count == 1 }
            #expect(up, "\((try? String(contentsOfFile: work + "/run.log", encoding: .utf8)) ?? "")")
            agent?.interrupt()   // SIGINT: the agent stops, its containers do not
            agent?.waitUntilExit()
            #expect(agent?.terminationStatus == 0)
            #expect(await EndToEndTests.running([engine], cluster: clusterID).count == 1)
        } catch {
            Issue.record(error)
        }
        if agent?.isRunning == true { agent?.terminate() }
        let client = await EngineHarness.shared.engineClient(engine)
        for summary in (try? await client.listContainers(labels: ["caas.cluster=\(clusterID)"])) ?? [] {
            try? await client.removeContainer(summary.id, force: true)
        }
        await cp.stop()
    }
}
