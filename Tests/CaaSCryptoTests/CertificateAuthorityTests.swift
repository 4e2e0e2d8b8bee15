import CaaSCrypto
import Foundation
import Testing

/// The certificate authority over OpenSSL: CA certificates, CSRs, signing, chains, identities,
/// and the CA key sealed at rest.
@Suite struct CertificateAuthorityTests {
    static let root = try! CertificateAuthority.create(commonName: "caas control plane CA")
    static let cluster = try! CertificateAuthority.create(commonName: "caas cluster clu_a CA", issuer: root)

    @Test func aRootCAIsSelfSignedForTenYearsWithCAConstraintsAndARandomSerial() throws {
        let ca = Self.root.certificate
        #expect(ca.isCertificateAuthority)
        #expect(ca.subjectCommonName == "caas control plane CA")
        #expect(ca.issuerCommonName == "caas control plane CA")
        #expect(ca.isSigned(by: ca))
        let years = ca.notAfter.timeIntervalSince(ca.notBefore) / (365.25 * 86_400)
        #expect(years > 9.99 && years < 10.01)
        #expect(Self.root.key.publicKey.algorithm.hasPrefix("EC"))
        let other = try CertificateAuthority.create(commonName: "caas control plane CA")
        #expect(other.certificate.serialNumber != ca.serialNumber)
        #expect(ca.serialNumber.count >= 30)
        try CertificateVerifier.verify(ca, roots: [ca])
    }

    @Test func aClusterCAIsSignedByTheRootAndMaySignOnlyLeaves() throws {
        let cluster = Self.cluster.certificate
        #expect(cluster.isCertificateAuthority)
        #expect(cluster.isSigned(by: Self.root.certificate))
        #expect(!cluster.isSigned(by: cluster))
        try CertificateVerifier.verify(cluster, roots: [Self.root.certificate])
        // pathlen:0 — a CA below the cluster CA does not verify.
        let below = try CertificateAuthority.create(commonName: "rogue", issuer: Self.cluster)
        let leaf = try below.issue(for: try PrivateKey.generateP256().publicKey, commonName: "x", names: .init(uris: ["caas://control-plane"]),
                                   usage: .client, validity: 3600)
        #expect(throws: CryptoError.self) {
            try CertificateVerifier.verify(leaf, intermediates: [below.certificate, Self.cluster.certificate], roots: [Self.root.certificate])
        }
    }

    @Test func aSignedRequestBecomesALeafWithTheIdentityTheCAChoseAndAShortValidity() throws {
        let key = try PrivateKey.generateP256()
        let request = try CertificateSigningRequest(key: key, commonName: "caas-agent host-1")
        let parsed = try CertificateSigningRequest(pem: try request.pem())
        #expect(parsed.hasValidSignature)
        #expect(parsed.subjectCommonName == "caas-agent host-1")
        let identity = CaaSIdentity.agent(clusterID: "clu_a", agentID: "agt_1")
        let leaf = try Self.cluster.sign(parsed, commonName: "agt_1", names: .init(uris: [identity.uri], ipAddresses: ["127.0.0.1"]),
                                         usage: .clientAndServer, validity: 7 * 86_400)
        #expect(leaf.matches(key))
        #expect(!leaf.isCertificateAuthority)
        #expect(leaf.uris == ["caas://cluster/clu_a/agent/agt_1"])
        #expect(leaf.ipAddresses == ["127.0.0.1"])
        #expect(CaaSIdentity(certificateURIs: leaf.uris) == identity)
        #expect(leaf.issuerCommonName == "caas cluster clu_a CA")
        let days = leaf.notAfter.timeIntervalSince(Date()) / 86_400
        #expect(days > 6.99 && days <= 7.0)
        try CertificateVerifier.verify(leaf, intermediates: [Self.cluster.certificate], roots: [Self.root.certificate])
        // The chain needs the cluster CA: the root alone does not sign the leaf.
        #expect(throws: CryptoError.self) { try CertificateVerifier.verify(leaf, roots: [Self.root.certificate]) }
        // Round trip through PEM keeps everything.
        let again = try Certificate(pem: try leaf.pem())
        #expect(again.serialNumber == leaf.serialNumber)
        #expect(try again.der() == (try leaf.der()))
    }

    @Test func expiredAndForeignCertificatesFailVerificationWithTheirReason() throws {
        let key = try PrivateKey.generateP256()
        let leaf = try Self.cluster.issue(for: key.publicKey, commonName: "a", names: .init(uris: ["caas://cluster/clu_a/agent/agt_2"]),
                                          usage: .client, validity: 3600)
        do {
            try CertificateVerifier.verify(leaf, intermediates: [Self.cluster.certificate], roots: [Self.root.certificate],
                                           at: Date().addingTimeInterval(7200))
            Issue.record("an expired certificate verified")
        } catch {
            #expect("\(error)".contains("expired"))
        }
        let strangerRoot = try CertificateAuthority.create(commonName: "stranger")
        let strangerCluster = try CertificateAuthority.create(commonName: "stranger cluster", issuer: strangerRoot)
        let foreign = try strangerCluster.issue(for: key.publicKey, commonName: "a", names: .init(uris: ["caas://cluster/clu_a/agent/agt_2"]),
                                                usage: .client, validity: 3600)
        #expect(throws: CryptoError.self) {
            try CertificateVerifier.verify(foreign, intermediates: [strangerCluster.certificate], roots: [Self.root.certificate])
        }
        #expect(!foreign.isSigned(by: Self.cluster.certificate))
    }

    @Test func aLeafNeverOutlivesItsIssuer() throws {
        let shortCA = try CertificateAuthority.create(commonName: "short", validity: 3600)
        let leaf = try shortCA.issue(for: try PrivateKey.generateP256().publicKey, commonName: "x", names: .init(dnsNames: ["localhost"]),
                                     usage: .server, validity: 86_400)
        #expect(leaf.notAfter <= shortCA.certificate.notAfter)
    }

    @Test func requestsWithABrokenSignatureOrNoNamesAreRefused() throws {
        let key = try PrivateKey.generateP256()
        let request = try CertificateSigningRequest(key: key, commonName: "x")
        var pem = try request.pem()
        // Flip a character inside the base64 body (the signature sits at the end).
        var lines = pem.split(separator: "\n").map(String.init)
        let index = lines.count - 2
        var chars = Array(lines[index])
        chars[2] = chars[2] == "A" ? "B" : "A"
        lines[index] = String(chars)
        pem = lines.joined(separator: "\n") + "\n"
        if let tampered = try? CertificateSigningRequest(pem: pem) {
            #expect(!tampered.hasValidSignature)
            #expect(throws: CryptoError.self) {
                try Self.cluster.sign(tampered, commonName: "x", names: .init(uris: ["caas://control-plane"]), usage: .client, validity: 60)
            }
        }
        #expect(throws: CryptoError.self) {
            try Self.cluster.sign(request, commonName: "x", names: .init(), usage: .client, validity: 60)
        }
        #expect(throws: CryptoError.self) {
            try Self.cluster.sign(request, commonName: "x", names: .init(uris: ["caas://a,DNS:evil"]), usage: .client, validity: 60)
        }
    }

    @Test func theCAKeyIsSealedAtRestAndOpensOnlyWithItsKeyEncryptionKey() throws {
        let kek = try SecretBox(key: try SecureRandom.bytes(32))
        let sealed = try Self.root.key.sealed(with: kek)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("PRIVATE KEY"))
        let opened = try PrivateKey(sealed: sealed, box: kek)
        let again = try CertificateAuthority(certificate: Self.root.certificate, key: opened)
        #expect(again.certificate.matches(opened))
        let wrong = try SecretBox(key: try SecureRandom.bytes(32))
        #expect(throws: CryptoError.self) { try PrivateKey(sealed: sealed, box: wrong) }
        // PKCS#8 with AES-256-CBC under a passphrase works too.
        let encrypted = try Self.root.key.encryptedPEM(passphrase: Array("correct horse".utf8))
        #expect(encrypted.contains("ENCRYPTED PRIVATE KEY"))
        let decrypted = try PrivateKey(pem: encrypted, passphrase: Array("correct horse".utf8))
        #expect(Self.root.certificate.matches(decrypted))
        #expect(throws: (any Error).self) { try PrivateKey(pem: encrypted, passphrase: Array("wrong".utf8)) }
    }

    @Test func aCertificateAndAForeignKeyDoNotMakeACA() throws {
        #expect(throws: CryptoError.self) { try CertificateAuthority(certificate: Self.root.certificate, key: try PrivateKey.generateP256()) }
    }

    @Test func identityURIsRoundTripAndRejectOtherShapes() {
        #expect(CaaSIdentity(uri: "caas://cluster/clu_x1/agent/agt_y2") == .agent(clusterID: "clu_x1", agentID: "agt_y2"))
        #expect(CaaSIdentity(uri: "caas://control-plane") == .controlPlane)
        #expect(CaaSIdentity.agent(clusterID: "clu_1", agentID: "agt_2").uri == "caas://cluster/clu_1/agent/agt_2")
        for bad in ["caas://cluster/clu_1/agent/", "caas://cluster//agent/a", "caas://cluster/a/b/c", "https://cluster/a/agent/b",
                    "caas://cluster/a/agent/b/c", "caas://cluster/a%2F/agent/b"] {
            #expect(CaaSIdentity(uri: bad) == nil, "\(bad)")
        }
        #expect(CaaSIdentity(certificateURIs: ["caas://control-plane", "caas://cluster/a/agent/b"]) == nil)
        #expect(CaaSIdentity(certificateURIs: ["https://example", "caas://control-plane"]) == .controlPlane)
    }

    @Test func chainsReadFromPEMKeepTheirOrder() throws {
        let text = try Self.cluster.certificate.pem() + (try Self.root.certificate.pem())
        let chain = try Certificate.chain(pem: text)
        #expect(chain.map(\.serialNumber) == [Self.cluster.certificate.serialNumber, Self.root.certificate.serialNumber])
        #expect(throws: CryptoError.self) { try Certificate.chain(pem: "nothing here") }
    }
}
