import Foundation
import Testing
@testable import CaaSHTTP

/// Two sessions talking to each other in memory: what one writes, the other is fed.
private struct InMemoryLink {
    let client: TLSSession
    let server: TLSSession
    var clientError: TLSError?
    var serverError: TLSError?
    var clientReceived: [UInt8] = []
    var serverReceived: [UInt8] = []
    var clientSawClose = false
    var serverSawClose = false
    /// Bytes per `feed` call: 1 delivers ciphertext one byte at a time.
    var chunkSize = Int.max

    init(client: TLSSession, server: TLSSession) {
        self.client = client
        self.server = server
    }

    /// Moves ciphertext both ways until neither side has anything left to say.
    mutating func run(maxRounds: Int = 10_000) {
        for _ in 0..<maxRounds {
            stepClient()
            let toServer = transfer(from: client, to: server, thenStep: { $0.stepServer() })
            stepServer()
            let toClient = transfer(from: server, to: client, thenStep: { $0.stepClient() })
            if !toServer && !toClient {
                stepClient()
                stepServer()
                if !client.hasOutgoingCiphertext && !server.hasOutgoingCiphertext { return }
            }
        }
        Issue.record("the sessions kept talking for \(maxRounds) rounds")
    }

    mutating func stepClient() { Self.step(client, received: &clientReceived, error: &clientError, closed: &clientSawClose) }
    mutating func stepServer() { Self.step(server, received: &serverReceived, error: &serverError, closed: &serverSawClose) }

    private static func step(_ session: TLSSession, received: inout [UInt8], error: inout TLSError?, closed: inout Bool) {
        guard error == nil, !closed else { return }
        do {
            switch try session.readPlaintext() {
            case .data(let bytes): received += bytes
            case .wantMore: break
            case .closed: closed = true
            }
        } catch let failure as TLSError {
            error = failure
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    /// Feeds `chunkSize` bytes at a time, letting the receiver read after each piece.
    private mutating func transfer(from: TLSSession, to: TLSSession, thenStep: (inout InMemoryLink) -> Void) -> Bool {
        let bytes = from.takeOutgoingCiphertext()
        guard !bytes.isEmpty else { return false }
        var offset = 0
        while offset < bytes.count {
            let end = bytes.count - offset > chunkSize ? offset + chunkSize : bytes.count
            to.feed(Array(bytes[offset..<end]))
            offset = end
            if end < bytes.count { thenStep(&self) }
        }
        return true
    }
}

@Suite("TLS engine in memory")
struct TLSSessionTests {
    let certificates: TLSTestCertificates

    init() throws { certificates = try TLSTestCertificates.shared() }

    private func serverContext(requireClientCertificate: Bool = false, otherCA: Bool = false) throws -> TLSContext {
        try TLSContext(server: TLSConfiguration(
            certificateChainFile: otherCA ? certificates.otherServerCertificate : certificates.serverCertificate,
            privateKeyFile: otherCA ? certificates.otherServerKey : certificates.serverKey,
            trustedCAFile: certificates.caCertificate,
            requireClientCertificate: requireClientCertificate))
    }

    private func clientContext(withCertificate: Bool = false, otherClientCertificate: Bool = false,
                               trust: String? = nil, verifyPeer: Bool = true) throws -> TLSContext {
        var configuration = TLSConfiguration(trustedCAFile: trust ?? certificates.caCertificate, verifyPeer: verifyPeer)
        if withCertificate {
            configuration.certificateChainFile = otherClientCertificate ? certificates.otherClientCertificate : certificates.clientCertificate
            configuration.privateKeyFile = otherClientCertificate ? certificates.otherClientKey : certificates.clientKey
        }
        return try TLSContext(client: configuration)
    }

    @Test func handshakeCompletesAndDataFlowsBothWays() throws {
        let client = try TLSSession(context: clientContext(), serverName: "localhost")
        let server = try TLSSession(context: serverContext())
        var link = InMemoryLink(client: client, server: server)
        link.run()
        #expect(link.clientError == nil && link.serverError == nil)
        #expect(client.isHandshakeComplete && server.isHandshakeComplete)
        #expect(client.protocolVersion == "TLSv1.3")

        try client.writePlaintext(Array("ping".utf8))
        link.run()
        #expect(link.serverReceived == Array("ping".utf8))
        try server.writePlaintext(Array("pong".utf8))
        link.run()
        #expect(link.clientReceived == Array("pong".utf8))

        let peer = try #require(client.peerCertificate)
        #expect(peer.subjectCommonName == "localhost")
        #expect(peer.issuerCommonName == "caas test ca")
        #expect(peer.dnsNames == ["localhost"])
        #expect(peer.ipAddresses == ["127.0.0.1", "::1"])
        #expect(peer.notAfter > Date() && peer.notAfter < Date().addingTimeInterval(3 * 86_400))
        #expect(peer.sha256Fingerprint.count == 32)
        #expect(!peer.serialNumber.isEmpty)
        #expect(server.peerCertificate == nil)
    }

    @Test func plaintextWrittenBeforeTheHandshakeIsSentAfterIt() throws {
        let client = try TLSSession(context: clientContext(), serverName: "127.0.0.1")
        let server = try TLSSession(context: serverContext())
        try client.writePlaintext(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        var link = InMemoryLink(client: client, server: server)
        link.run()
        #expect(link.clientError == nil && link.serverError == nil)
        #expect(link.serverReceived == Array("GET / HTTP/1.1\r\n\r\n".utf8))
    }

    @Test func ciphertextDeliveredOneByteAtATimeStillWorks() throws {
        let server = try TLSSession(context: serverContext(requireClientCertificate: true))
        let clientWithCertificate = try TLSSession(context: clientContext(withCertificate: true), serverName: "localhost")
        var link = InMemoryLink(client: clientWithCertificate, server: server)
        link.chunkSize = 1
        try clientWithCertificate.writePlaintext(Array(repeating: 7, count: 40_000))
        link.run()
        #expect(link.clientError == nil && link.serverError == nil)
        #expect(link.serverReceived == Array(repeating: 7, count: 40_000))
    }

    @Test func largeTransfersArriveIntact() throws {
        let client = try TLSSession(context: clientContext(), serverName: "localhost")
        let server = try TLSSession(context: serverContext())
        var link = InMemoryLink(client: client, server: server)
        link.run()
        let payload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try server.writePlaintext(payload)
        link.run()
        #expect(link.clientReceived == payload)
    }

    @Test func clientCertificateIsVerifiedAndVisibleToTheServer() throws {
        let client = try TLSSession(context: clientContext(withCertificate: true), serverName: "localhost")
        let server = try TLSSession(context: serverContext(requireClientCertificate: true))
        var link = InMemoryLink(client: client, server: server)
        try client.writePlaintext(Array("hello".utf8))
        link.run()
        #expect(link.clientError == nil && link.serverError == nil)
        #expect(link.serverReceived == Array("hello".utf8))
        let peer = try #require(server.peerCertificate)
        #expect(peer.subjectCommonName == "agent-1")
        #expect(peer.uris == [TLSTestCertificates.clientURI])
        #expect(peer.dnsNames == ["agent-1.caas.test"])
    }

    @Test func missingClientCertificateFailsTheHandshakeOnBothSides() throws {
        let client = try TLSSession(context: clientContext(), serverName: "localhost")
        let server = try TLSSession(context: serverContext(requireClientCertificate: true))
        var link = InMemoryLink(client: client, server: server)
        link.run()
        let serverError = try #require(link.serverError)
        guard case .handshakeFailed(let serverMessage) = serverError else {
            Issue.record("server: \(serverError)"); return
        }
        #expect(serverMessage.contains("peer did not return a certificate"))
        let clientError = try #require(link.clientError)
        guard case .handshakeFailed(let clientMessage) = clientError else {
            Issue.record("client: \(clientError)"); return
        }
        #expect(clientMessage.contains("certificate required"))
        #expect(link.serverReceived.isEmpty)
    }

    @Test func clientCertificateFromAnotherCAIsRejected() throws {
        let client = try TLSSession(context: clientContext(withCertificate: true, otherClientCertificate: true), serverName: "localhost")
        let server = try TLSSession(context: serverContext(requireClientCertificate: true))
        var link = InMemoryLink(client: client, server: server)
        try client.writePlaintext(Array("hello".utf8))
        link.run()
        #expect(link.serverReceived.isEmpty)
        let serverError = try #require(link.serverError)
        #expect("\(serverError)".contains("certificate verif"))
        #expect(link.clientError != nil)
    }

    @Test func serverFromAnotherCAFailsVerification() throws {
        let client = try TLSSession(context: clientContext(), serverName: "localhost")
        let server = try TLSSession(context: serverContext(otherCA: true))
        var link = InMemoryLink(client: client, server: server)
        link.run()
        let clientError = try #require(link.clientError)
        guard case .handshakeFailed(let message) = clientError else { Issue.record("\(clientError)"); return }
        #expect(message.contains("unable to get local issuer certificate"))
        let serverError = try #require(link.serverError)
        #expect("\(serverError)".contains("unknown ca"))
        #expect(!client.isHandshakeComplete)
    }

    @Test func serverFromAnotherCAIsAcceptedWithoutVerification() throws {
        let client = try TLSSession(context: clientContext(verifyPeer: false), serverName: "localhost")
        let server = try TLSSession(context: serverContext(otherCA: true))
        var link = InMemoryLink(client: client, server: server)
        link.run()
        #expect(link.clientError == nil && link.serverError == nil)
        #expect(client.isHandshakeComplete)
    }

    @Test(arguments: ["wrong.example", "127.0.0.2", "::2"])
    func hostnameMismatchFailsWhenVerifyingPeer(name: String) throws {
        let client = try TLSSession(context: clientContext(), serverName: name)
        let server = try TLSSession(context: serverContext())
        var link = InMemoryLink(client: client, server: server)
        link.run()
        let clientError = try #require(link.clientError)
        guard case .handshakeFailed(let message) = clientError else { Issue.record("\(clientError)"); return }
        #expect(message.contains("mismatch"))
        #expect(link.serverError != nil)
    }

    @Test(arguments: ["localhost", "127.0.0.1", "::1", "[::1]"])
    func matchingNamesAndAddressesVerify(name: String) throws {
        let client = try TLSSession(context: clientContext(), serverName: name)
        let server = try TLSSession(context: serverContext())
        var link = InMemoryLink(client: client, server: server)
        link.run()
        #expect(link.clientError == nil)
        #expect(client.isHandshakeComplete)
    }

    @Test func closeDeliversCloseNotifyAndStopsWrites() throws {
        let client = try TLSSession(context: clientContext(), serverName: "localhost")
        let server = try TLSSession(context: serverContext())
        var link = InMemoryLink(client: client, server: server)
        try server.writePlaintext(Array("bye".utf8))
        server.close()
        link.run()
        #expect(link.clientReceived == Array("bye".utf8))
        #expect(link.clientSawClose)
        #expect(throws: TLSError.sessionClosed) { try server.writePlaintext([1]) }
    }

    @Test func missingFilesGiveClearErrors() throws {
        #expect(throws: TLSError.fileNotFound(role: "certificate", path: "/nonexistent/cert.pem")) {
            try TLSContext(server: TLSConfiguration(certificateChainFile: "/nonexistent/cert.pem", privateKeyFile: certificates.serverKey))
        }
        let error = TLSError.fileNotFound(role: "certificate", path: "/x")
        #expect("\(error)" == "certificate file /x not found")
        #expect(throws: TLSError.fileNotFound(role: "trusted CA", path: "/nonexistent/ca.pem")) {
            try TLSContext(client: TLSConfiguration(trustedCAFile: "/nonexistent/ca.pem"))
        }
        #expect(throws: TLSError.self) {
            try TLSContext(server: TLSConfiguration(certificateChainFile: certificates.serverCertificate))
        }
    }

    @Test func mismatchedKeyCarriesOpenSSLText() throws {
        do {
            _ = try TLSContext(server: TLSConfiguration(certificateChainFile: certificates.serverCertificate,
                                                        privateKeyFile: certificates.clientKey))
            Issue.record("a mismatched key was accepted")
        } catch let error as TLSError {
            guard case .openSSL(_, let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("values mismatch") || message.contains("key"))
        }
    }

    @Test func certificateParsesFromPEM() throws {
        let pem = try String(contentsOfFile: certificates.clientCertificate, encoding: .utf8)
        let certificate = try PeerCertificate(pem: pem)
        #expect(certificate.subjectCommonName == "agent-1")
        let again = try PeerCertificate(der: certificate.derBytes)
        #expect(again == certificate)
        #expect(certificate.sha256FingerprintHex.count == 64)
    }
}
