#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import CaaSHTTP

/// A blocking HTTPS test client: TLSSession (client side) over a raw socket.
private struct HTTPSExchange {
    enum Outcome: Equatable {
        case response(status: Int, body: String)
        case refused(String)
    }

    static func get(port: Int, path: String, certificate: String?, key: String?, ca: String) async throws -> Outcome {
        let configuration = TLSConfiguration(certificateChainFile: certificate, privateKeyFile: key, trustedCAFile: ca,
                                             verifyPeer: true, serverName: "localhost")
        let context = try TLSContext(client: configuration)
        let raw = try RawConnection.tcp(port: port)
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run(raw: raw, context: context, path: path) })
            }
        }
    }

    private static func run(raw: RawConnection, context: TLSContext, path: String) throws -> Outcome {
        let session = try TLSSession(context: context)
        var plaintext: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var sentRequest = false
        while true {
            do {
                loop: while true {
                    switch try session.readPlaintext() {
                    case .data(let bytes): plaintext += bytes
                    case .wantMore: break loop
                    case .closed: return outcome(plaintext)
                    }
                }
            } catch {
                return .refused("\(error)")
            }
            if session.isHandshakeComplete && !sentRequest {
                try session.writePlaintext(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
                sentRequest = true
            }
            let outgoing = session.takeOutgoingCiphertext()
            if !outgoing.isEmpty { try raw.sendNow(outgoing) }
            let n = buffer.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return plaintext.isEmpty ? .refused("connection closed") : outcome(plaintext) }
            session.feed(Array(buffer[0..<n]))
        }
    }

    private static func outcome(_ bytes: [UInt8]) -> Outcome {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return .refused("no response: \(text)") }
        let status = Int(text.split(separator: " ")[1]) ?? 0
        return .response(status: status, body: String(text[headEnd.upperBound...]))
    }
}

private let whoAmI = HTTPResponderClosure { request, _ in
    let certificate = request.connection.peerCertificate
    return .text("secure=\(request.connection.isSecure) cn=\(certificate?.subjectCommonName ?? "none") uris=\(certificate?.uris ?? [])")
}

@Suite("HTTP server over TLS")
struct ServerTLSTests {
    @Test("HTTPS without client certificates")
    func plainTLS() async throws {
        let certificates = try TLSTestCertificates.shared()
        let tls = TLSConfiguration(certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey)
        try await withLiveServer(tls: tls, responder: whoAmI) { server in
            let outcome = try await HTTPSExchange.get(port: server.port!, path: "/", certificate: nil, key: nil, ca: certificates.caCertificate)
            #expect(outcome == .response(status: 200, body: "secure=true cn=none uris=[]"))
        }
    }

    @Test("mutual TLS: the verified client certificate reaches the handler")
    func mutualTLS() async throws {
        let certificates = try TLSTestCertificates.shared()
        let tls = TLSConfiguration(certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey,
                                   trustedCAFile: certificates.caCertificate, requireClientCertificate: true)
        try await withLiveServer(tls: tls, responder: whoAmI) { server in
            let outcome = try await HTTPSExchange.get(port: server.port!, path: "/", certificate: certificates.clientCertificate,
                                                      key: certificates.clientKey, ca: certificates.caCertificate)
            #expect(outcome == .response(status: 200, body: "secure=true cn=agent-1 uris=[\"\(TLSTestCertificates.clientURI)\"]"))
        }
    }

    @Test("mutual TLS: a client without a certificate, or with one from another CA, is refused")
    func mutualTLSRefusals() async throws {
        let certificates = try TLSTestCertificates.shared()
        let tls = TLSConfiguration(certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey,
                                   trustedCAFile: certificates.caCertificate, requireClientCertificate: true)
        try await withLiveServer(tls: tls, responder: whoAmI) { server in
            let anonymous = try await HTTPSExchange.get(port: server.port!, path: "/", certificate: nil, key: nil, ca: certificates.caCertificate)
            guard case .refused = anonymous else { Issue.record("served without a certificate: \(anonymous)"); return }
            let intruder = try await HTTPSExchange.get(port: server.port!, path: "/", certificate: certificates.otherClientCertificate,
                                                       key: certificates.otherClientKey, ca: certificates.caCertificate)
            guard case .refused = intruder else { Issue.record("served a foreign certificate: \(intruder)"); return }
            #expect(try await eventually { server.connectionCount == 0 })
        }
    }

    @Test("plaintext HTTP sent to a TLS port is dropped")
    func plaintextToTLSPort() async throws {
        let certificates = try TLSTestCertificates.shared()
        let tls = TLSConfiguration(certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey)
        try await withLiveServer(tls: tls, responder: whoAmI) { server in
            let client = try RawConnection.tcp(port: server.port!)
            try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try await client.readToEnd()
            #expect(!String(decoding: answer, as: UTF8.self).contains("HTTP/1.1"))
        }
    }
}
