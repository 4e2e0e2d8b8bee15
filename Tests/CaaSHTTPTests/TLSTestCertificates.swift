import CaaSTestSupport
import Foundation
import Synchronization

/// Certificates made once per test process by the `openssl` command line in a temporary
/// directory: a CA, a server certificate (localhost, 127.0.0.1, ::1) and a client certificate
/// signed by it, plus a second, unrelated CA with its own server certificate.
struct TLSTestCertificates: Sendable {
    let directory: String
    var caCertificate: String { directory + "/ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var clientCertificate: String { directory + "/client.pem" }
    var clientKey: String { directory + "/client.key" }
    var otherCACertificate: String { directory + "/other-ca.pem" }
    var otherServerCertificate: String { directory + "/other-server.pem" }
    var otherServerKey: String { directory + "/other-server.key" }
    /// A client certificate signed by the other CA.
    var otherClientCertificate: String { directory + "/other-client.pem" }
    var otherClientKey: String { directory + "/other-client.key" }

    static let clientURI = "spiffe://caas/cluster/clu_test/agent"

    private static let cache = Mutex<TLSTestCertificates?>(nil)

    static func shared() throws -> TLSTestCertificates {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    private static func make() throws -> TLSTestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("caas-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = TLSTestCertificates(directory: directory)
        for ca in ["ca", "other-ca"] { try TestCertificates.makeCA(ca, in: directory) }
        let serverNames = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
        let clientNames = ["URI:\(clientURI)", "DNS:agent-1.caas.test"]
        try TestCertificates.makeLeaf("server", signedBy: "ca", commonName: "localhost", usage: .server,
                                      alternativeNames: serverNames, in: directory)
        try TestCertificates.makeLeaf("client", signedBy: "ca", commonName: "agent-1", usage: .client,
                                      alternativeNames: clientNames, in: directory)
        try TestCertificates.makeLeaf("other-server", signedBy: "other-ca", commonName: "localhost", usage: .server,
                                      alternativeNames: serverNames, in: directory)
        try TestCertificates.makeLeaf("other-client", signedBy: "other-ca", commonName: "intruder", usage: .client,
                                      alternativeNames: clientNames, in: directory)
        return certificates
    }
}
