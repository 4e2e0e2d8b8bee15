import CaaSTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a TLS engine (`dockerd --tlsverify`) listens with, and what a client presents to it:
/// certificates made by `TestCertificates` in the engine's directory — a CA, a server
/// certificate for IP:127.0.0.1 and a client certificate, both signed by the CA.
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
        try TestCertificates.makeCA("ca", in: directory)
        try TestCertificates.makeLeaf("server", signedBy: "ca", commonName: "127.0.0.1", usage: .server,
                                      alternativeNames: ["IP:127.0.0.1"], in: directory)
        try TestCertificates.makeLeaf("client", signedBy: "ca", commonName: "caas-agent", usage: .client, in: directory)
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
}
