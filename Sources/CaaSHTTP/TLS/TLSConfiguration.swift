/// What a `TLSContext` is built from: files on disk (PEM) and the verification policy.
///
/// The same type serves both sides. A server needs `certificateChainFile` and `privateKeyFile`;
/// with `requireClientCertificate` it also needs `trustedCAFile` (the CA that signs client
/// certificates). A client needs nothing by default; with `verifyPeer` (the default) it checks the
/// server's chain against `trustedCAFile` (or the system roots when `nil`) and the server's name.
public struct TLSConfiguration: Sendable {
    /// PEM file: the leaf certificate first, then any intermediates.
    public var certificateChainFile: String?
    /// PEM file with the private key of the leaf certificate.
    public var privateKeyFile: String?
    /// PEM file with the CA certificate(s) to trust for the peer.
    public var trustedCAFile: String?
    /// Server side: demand a client certificate and verify it against `trustedCAFile`.
    public var requireClientCertificate: Bool
    /// Client side: verify the server's chain and its name (DNS name or IP address).
    public var verifyPeer: Bool
    /// Client side: the name sent as SNI and checked against the certificate, unless a
    /// `TLSSession` is given its own `serverName`.
    public var serverName: String?

    public init(
        certificateChainFile: String? = nil,
        privateKeyFile: String? = nil,
        trustedCAFile: String? = nil,
        requireClientCertificate: Bool = false,
        verifyPeer: Bool = true,
        serverName: String? = nil
    ) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.trustedCAFile = trustedCAFile
        self.requireClientCertificate = requireClientCertificate
        self.verifyPeer = verifyPeer
        self.serverName = serverName
    }
}
