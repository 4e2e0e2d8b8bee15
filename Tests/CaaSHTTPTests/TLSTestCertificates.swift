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
        let caConfig = """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = placeholder
            [v3_ca]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            """
        try caConfig.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
            """.write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = clientAuth
            subjectAltName = URI:\(clientURI), DNS:agent-1.caas.test
            """.write(toFile: directory + "/client.ext", atomically: true, encoding: .utf8)

        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "other-ca"] {
            try openssl(["req", "-x509", "-config", "ca.cnf", "-extensions", "v3_ca"] + ec
                + ["-keyout", "\(ca).key", "-out", "\(ca).pem", "-days", "2", "-subj", "/CN=caas test \(ca)"], in: directory)
        }
        let leaves: [(name: String, ca: String, subject: String, ext: String)] = [
            ("server", "ca", "/CN=localhost", "server.ext"),
            ("client", "ca", "/CN=agent-1", "client.ext"),
            ("other-server", "other-ca", "/CN=localhost", "server.ext"),
            ("other-client", "other-ca", "/CN=intruder", "client.ext"),
        ]
        for leaf in leaves {
            try openssl(["req", "-config", "ca.cnf"] + ec
                + ["-keyout", "\(leaf.name).key", "-out", "\(leaf.name).csr", "-subj", leaf.subject], in: directory)
            try openssl(["x509", "-req", "-in", "\(leaf.name).csr", "-CA", "\(leaf.ca).pem", "-CAkey", "\(leaf.ca).key",
                         "-set_serial", "0x\(String(UInt32.random(in: 0x1000_0000...0x7fff_ffff), radix: 16))",
                         "-out", "\(leaf.name).pem", "-days", "2", "-extfile", leaf.ext], in: directory)
        }
        return certificates
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            struct OpenSSLCommandFailed: Error, CustomStringConvertible { let description: String }
            throw OpenSSLCommandFailed(description: "openssl \(arguments.joined(separator: " ")): \(String(decoding: text, as: UTF8.self))")
        }
    }
}
