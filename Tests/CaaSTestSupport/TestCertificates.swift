import Foundation

/// Test certificates made by the `openssl` command line in a directory: CAs (EC P-256,
/// `<name>.pem` + `<name>.key`) and leaf certificates signed by them, each with its own
/// extended key usage and subject alternative names. Two days of validity; tests only.
public enum TestCertificates {
    public enum Usage: String, Sendable {
        case server = "serverAuth"
        case client = "clientAuth"
    }

    /// A self-signed CA `<name>.pem` / `<name>.key` in `directory`.
    public static func makeCA(_ name: String, in directory: String) throws {
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
        try openssl(["req", "-x509", "-config", "ca.cnf", "-extensions", "v3_ca"] + ellipticCurveKey
            + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=caas test \(name)"], in: directory)
    }

    /// A leaf `<name>.pem` / `<name>.key` signed by the CA `<ca>.pem` (made by `makeCA` in the
    /// same directory). `alternativeNames` as openssl writes them: `DNS:localhost`, `IP:127.0.0.1`, `URI:…`.
    public static func makeLeaf(_ name: String, signedBy ca: String, commonName: String, usage: Usage,
                                alternativeNames: [String] = [], in directory: String) throws {
        var extensions = """
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = \(usage.rawValue)
            """
        if !alternativeNames.isEmpty { extensions += "\nsubjectAltName = " + alternativeNames.joined(separator: ", ") }
        try extensions.write(toFile: directory + "/\(name).ext", atomically: true, encoding: .utf8)
        try openssl(["req", "-config", "ca.cnf"] + ellipticCurveKey
            + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(commonName)"], in: directory)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                     "-set_serial", "0x\(String(UInt32.random(in: 0x1000_0000...0x7fff_ffff), radix: 16))",
                     "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext"], in: directory)
    }

    public struct CommandFailed: Error, CustomStringConvertible {
        public let description: String
    }

    private static let ellipticCurveKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

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
            throw CommandFailed(description: "openssl \(arguments.joined(separator: " ")): \(String(decoding: text, as: UTF8.self))")
        }
    }
}
