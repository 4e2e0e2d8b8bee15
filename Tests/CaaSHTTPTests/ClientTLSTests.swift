import Foundation
import Testing
@testable import CaaSHTTP

/// The error `body` threw, or nil (recording an issue) when it succeeded.
private func failure(of body: () async throws -> Void) async -> HTTPClientError? {
    do {
        try await body()
        Issue.record("the request succeeded")
        return nil
    } catch {
        guard let clientError = error as? HTTPClientError else {
            Issue.record("unexpected error type \(error)")
            return nil
        }
        return clientError
    }
}

/// HTTPS through the client against a loopback server built on our own `TLSSession`.
@Suite("HTTP client over TLS")
struct ClientTLSTests {
    let certificates: TLSTestCertificates

    init() throws { certificates = try TLSTestCertificates.shared() }

    private func server(requireClientCertificate: Bool, otherCA: Bool = false, _ listen: ClientTestServer.Listen = .ipv4,
                        address: String = "127.0.0.1") throws -> ClientTestServer {
        let context = try TLSContext(server: TLSConfiguration(
            certificateChainFile: otherCA ? certificates.otherServerCertificate : certificates.serverCertificate,
            privateKeyFile: otherCA ? certificates.otherServerKey : certificates.serverKey,
            trustedCAFile: certificates.caCertificate,
            requireClientCertificate: requireClientCertificate))
        return try ClientTestServer(listen, ipv4Address: address, tls: context) { connection in
            while let request = try connection.readRequest() {
                let who = connection.peerCertificate?.subjectCommonName ?? "anonymous"
                let body = "\(request.method) \(request.target) from \(who)"
                try connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            }
        }
    }

    private func client(withCertificate: Bool) throws -> HTTPClient {
        var tls = TLSConfiguration(trustedCAFile: certificates.caCertificate)
        if withCertificate {
            tls.certificateChainFile = certificates.clientCertificate
            tls.privateKeyFile = certificates.clientKey
        }
        return try HTTPClient(configuration: HTTPClientConfiguration(tls: tls))
    }

    @Test func httpsWithClientCertificateAndConnectionReuse() async throws {
        let server = try server(requireClientCertificate: true)
        let client = try client(withCertificate: true)
        for _ in 0..<3 {
            let response = try await client.execute(HTTPClientRequest(method: .post, url: "https://127.0.0.1:\(server.port)/v1/agent/desired",
                                                                      body: .bytes(Array("{}".utf8))))
            #expect(response.bodyText == "POST /v1/agent/desired from agent-1")
            #expect(response.peerCertificate?.subjectCommonName == "localhost")
        }
        #expect(server.acceptedConnections == 1)
    }

    @Test func httpsByHostNameAndOverIPv6() async throws {
        let server = try server(requireClientCertificate: false)
        let client = try client(withCertificate: false)
        let named = try await client.execute(HTTPClientRequest(url: "https://localhost:\(server.port)/named"))
        #expect(named.bodyText == "GET /named from anonymous")
        guard let six = try? self.server(requireClientCertificate: false, .ipv6) else { return }
        let response = try await client.execute(HTTPClientRequest(url: "https://[::1]:\(six.port)/six"))
        #expect(response.bodyText == "GET /six from anonymous")
    }

    @Test func missingClientCertificateIsATLSError() async throws {
        let server = try server(requireClientCertificate: true)
        let client = try client(withCertificate: false)
        let error = await failure {
            _ = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/"), timeout: .seconds(5))
        }
        guard case .tls(let tlsError) = error else { Issue.record("\(String(describing: error))"); return }
        #expect("\(tlsError)".contains("certificate required"))
    }

    @Test func serverFromAnotherCAIsRejected() async throws {
        let server = try server(requireClientCertificate: false, otherCA: true)
        let client = try client(withCertificate: false)
        let error = await failure {
            _ = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/"), timeout: .seconds(5))
        }
        guard case .tls(.handshakeFailed(let message)) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(message.contains("unable to get local issuer certificate"))
    }

    @Test func hostNameMustMatchTheCertificate() async throws {
        // 127.0.0.2 is loopback too, but not in the certificate.
        let server = try server(requireClientCertificate: false, address: "127.0.0.2")
        let client = try client(withCertificate: false)
        let error = await failure {
            _ = try await client.execute(HTTPClientRequest(url: "https://127.0.0.2:\(server.port)/"), timeout: .seconds(5))
        }
        guard case .tls(.handshakeFailed(let message)) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(message.contains("mismatch"))
    }

    @Test func httpsStreamsToo() async throws {
        let server = try server(requireClientCertificate: true)
        let client = try client(withCertificate: true)
        let response = try await client.stream(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/stream"))
        var body: [UInt8] = []
        for try await chunk in response.body { body += chunk }
        #expect(String(decoding: body, as: UTF8.self) == "GET /stream from agent-1")
    }

    @Test func missingCertificateFileFailsAtClientCreation() throws {
        #expect(throws: HTTPClientError.tls(.fileNotFound(role: "certificate", path: "/nonexistent/client.pem"))) {
            try HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(
                certificateChainFile: "/nonexistent/client.pem", privateKeyFile: "/nonexistent/client.key")))
        }
    }
}

/// Interoperability with a TLS server that is not ours: `openssl s_server -www`, which answers
/// with an HTTP/1.0 page delimited by close.
@Suite("HTTP client against openssl s_server")
struct ClientOpenSSLServerTests {
    @Test func httpsToOpenSSLServerWithClientCertificate() async throws {
        let certificates = try TLSTestCertificates.shared()
        // A free loopback port: bind to port 0, read it, release it.
        let probe = try ClientTestServer(accept: false) { _ in }
        let port = probe.port
        probe.stop()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-www", "-naccept", "1",
                             "-cert", certificates.serverCertificate, "-key", certificates.serverKey,
                             "-CAfile", certificates.caCertificate, "-Verify", "1", "-quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var tls = TLSConfiguration(trustedCAFile: certificates.caCertificate)
        tls.certificateChainFile = certificates.clientCertificate
        tls.privateKeyFile = certificates.clientKey
        let client = try HTTPClient(configuration: HTTPClientConfiguration(tls: tls))
        // Wait for the listener.
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        var response: HTTPClientResponse?
        while response == nil && ContinuousClock.now < deadline {
            do {
                response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/"), timeout: .seconds(5))
            } catch HTTPClientError.connectionRefused {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let page = try #require(response)
        #expect(page.status == 200)
        #expect(page.bodyText.contains("Ciphers supported in s_server binary"))
        #expect(page.peerCertificate?.subjectCommonName == "localhost")
    }
}
