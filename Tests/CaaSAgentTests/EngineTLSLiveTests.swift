import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import Foundation
import Testing
@testable import CaaSAgent

/// The engine client over `tcp+tls://` against a real dockerd started with `--tlsverify`
/// (its own CA, a server certificate for 127.0.0.1, a client certificate), the way
/// `caas-agent run --engine-ca --engine-cert --engine-key` configures it.
@Suite struct EngineTLSLiveTests {
    @Test func tlsEngineServesClientWithCertificateAndRefusesClientWithout() async throws {
        let engine = try await EngineHarness.shared.engine("node-tls", tls: true)
        let tls = try #require(engine.tls)
        let endpoint = try #require(EngineEndpoint(tls.endpointText))
        #expect(endpoint == .tcp(host: "127.0.0.1", port: tls.port, tls: true))

        // With the client certificate and the engine's CA: ping, version, a container's life.
        let http = try HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(
            certificateChainFile: tls.clientCertificate, privateKeyFile: tls.clientKey, trustedCAFile: tls.caCertificate)))
        defer { http.shutdown() }
        let client = EngineClient(transport: HTTPClientTransport.factory(http)(endpoint))
        try await client.ping(timeoutSeconds: 5)
        let version = try await client.version()
        #expect(!version.version.isEmpty)
        #expect(version.apiVersion >= "1.41")
        let body = ContainerCreateBody(
            DesiredContainer(containerId: "ctr_tls", tenantId: "ten_1", appId: "app_1", appName: "tls", serviceName: "s",
                             slot: 1, generation: 1, image: BusyboxImage.reference, command: ["sleep", "30"]),
            clusterId: "clu_tls")
        let id = try await client.createContainer(name: "caas-tls-\(UUID().uuidString.prefix(8))", body: body)
        try await client.startContainer(id)
        #expect(try await client.inspectContainer(id).state.running)
        try await client.removeContainer(id, force: true)
        await #expect(throws: EngineError.notFound("No such container: \(id)")) { try await client.inspectContainer(id) }

        // The same endpoint, trusting the CA but without a client certificate: refused, quickly.
        let bare = try HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(trustedCAFile: tls.caCertificate)))
        defer { bare.shutdown() }
        let refused = EngineClient(transport: HTTPClientTransport.factory(bare)(endpoint))
        let started = ContinuousClock.now
        let error = await #expect(throws: EngineError.self) { try await refused.ping(timeoutSeconds: 10) }
        #expect(ContinuousClock.now - started < .seconds(5), "refused, not left to time out")
        #expect(error?.isUnreachable == true && !(error.map { "\($0)" } ?? "").contains("timed out"), "\(String(describing: error))")
        print("without a client certificate: \(error.map { "\($0)" } ?? "no error")")
    }
}
