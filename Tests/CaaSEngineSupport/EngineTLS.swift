import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a TLS engine (`dockerd --tlsverify`) listens with, and what a client presents to it:
/// certificates made by the `openssl` command line (as `TLSTestCertificates` in CaaSHTTPTests
/// does) in the engine's directory — a CA, a server certificate for IP:127.0.0.1 and a client
/// certificate, both signed by the CA.
public struct EngineTLS: Sendable {
    public let directory: String
    /// The loopback TCP port dockerd listens on with TLS.
    public let port: Int
    public var caCertificate: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }
    /// `tcp+tls://127.0.0.1:<port>`.
    public var endpointText: String { "tcp+tls://127.0.0.1:\(port)" }

    /// Makes the certificates in `directory` and picks a free loopback port.
    static func make(in directory: String) throws -> EngineTLS {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = placeholder
            [v3_ca]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            """.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1
            """.write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = clientAuth
            """.write(toFile: directory + "/client.ext", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509", "-config", "ca.cnf", "-extensions", "v3_ca"] + ec
            + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=caas test engine ca"], in: directory)
        for (name, subject, ext) in [("server", "/CN=127.0.0.1", "server.ext"), ("client", "/CN=caas-agent", "client.ext")] {
            try openssl(["req", "-config", "ca.cnf"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject], in: directory)
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                         "-set_serial", "0x\(String(UInt32.random(in: 0x1000_0000...0x7fff_ffff), radix: 16))",
                         "-out", "\(name).pem", "-days", "2", "-extfile", ext], in: directory)
        }
        return EngineTLS(directory: directory, port: try freeLoopbackPort())
    }

    /// A port the kernel hands out for 127.0.0.1 (bound, read, released).
    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EngineHarnessError.engineDidNotStart(name: "tls", reason: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw EngineHarnessError.engineDidNotStart(name: "tls", reason: "bind 127.0.0.1:0: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
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
            throw EngineHarnessError.engineDidNotStart(
                name: "tls", reason: "openssl \(arguments.joined(separator: " ")): \(String(decoding: text, as: UTF8.self))")
        }
    }
}
