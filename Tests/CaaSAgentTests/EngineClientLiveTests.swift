import CaaSEngineSupport
import CaaSModel
import Foundation
import Testing
@testable import CaaSAgent

/// The engine client against a real dockerd.
@Suite struct EngineClientLiveTests {
    @Test func engineReportsVersionAndCapacity() async throws {
        let engine = try await EngineHarness.shared.engine("node-a")
        let client = await EngineHarness.shared.engineClient(engine)
        try await client.ping()
        let version = try await client.version()
        #expect(!version.version.isEmpty)
        #expect(version.apiVersion >= "1.41")
        let info = try await client.info()
        #expect(info.cpus >= 1)
        #expect(info.memoryBytes > 0)
        #expect(try await client.hasImage(BusyboxImage.reference))
        #expect(try await client.hasImage("caas-test/none:latest") == false)
    }

    @Test func containerLifecycleWithLogsFollowedAndFramingDecoded() async throws {
        let engine = try await EngineHarness.shared.engine("node-a")
        let client = await EngineHarness.shared.engineClient(engine)
        let name = "caas-logs-\(UUID().uuidString.prefix(8))"
        var body = ContainerCreateBody(
            DesiredContainer(containerId: "ctr_logs", tenantId: "ten_1", appId: "app_1", appName: "logs", serviceName: "s",
                             slot: 1, generation: 1, image: BusyboxImage.reference,
                             command: ["sh", "-c", "echo out-$GREETING; echo err-line >&2; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done"],
                             environment: [EnvironmentVariable(name: "GREETING", value: "hello")]),
            clusterId: "clu_logs")
        body.stopTimeout = 1
        let id = try await client.createContainer(name: name, body: body)
        defer { Task { try? await client.removeContainer(id, force: true) } }
        try await client.startContainer(id)
        try await client.startContainer(id)  // already started: not an error

        var seen: [LogFrame.Stream: String] = [:]
        let frames = try await client.logs(id, follow: true, tail: 100)
        for try await frame in frames {
            seen[frame.stream, default: ""] += String(decoding: frame.bytes, as: UTF8.self)
            if seen[.stdout, default: ""].contains("tick-3") { break }
        }
        #expect(seen[.stdout]?.hasPrefix("out-hello\n") == true)
        #expect(seen[.stderr] == "err-line\n")

        let details = try await client.inspectContainer(id)
        #expect(details.state.running)
        #expect(details.hostConfig.initProcess == true)
        #expect(details.hostConfig.networkMode == "host")
        #expect(details.config.labels?["caas.container"] == "ctr_logs")

        let started = ContinuousClock.now
        try await client.stopContainer(id, timeoutSeconds: 30)
        #expect(ContinuousClock.now - started < .seconds(20), "SIGTERM reaches the process through Init (no kill after 30 s)")
        try await client.stopContainer(id, timeoutSeconds: 5)  // already stopped: not an error
        try await client.removeContainer(id)
        await #expect(throws: EngineError.notFound("No such container: \(id)")) { try await client.inspectContainer(id) }
    }

    @Test func unreachableEngineIsATypedError() async throws {
        let client = await EngineClient(transport: HTTPClientTransport(client: EngineHarness.shared.client,
                                                                     endpoint: .unixSocket(path: "/tmp/caas-no-such-engine.sock")))
        do {
            try await client.ping()
            Issue.record("ping of a missing socket succeeded")
        } catch {
            #expect(error.isUnreachable)
        }
    }
}
