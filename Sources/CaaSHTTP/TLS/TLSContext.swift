import COpenSSL
import Foundation

/// An OpenSSL `SSL_CTX`: certificates, trust and policy, shared by many `TLSSession`s.
///
/// `@unchecked Sendable`: the `SSL_CTX` is fully configured in `init` and never mutated after;
/// OpenSSL documents `SSL_new` on a shared, configured context as thread-safe (it takes its own
/// locks for reference counts and the session cache).
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// `true` for contexts made with `init(client:)`.
    public let isClient: Bool
    /// The configuration the context was made from.
    public let configuration: TLSConfiguration

    /// TLS 1.2 ciphers (TLS 1.3 suites keep OpenSSL's defaults, all of which are AEAD):
    /// forward secrecy and AEAD only.
    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    public init(server configuration: TLSConfiguration) throws {
        guard let certificate = configuration.certificateChainFile, let key = configuration.privateKeyFile else {
            throw TLSError.invalidConfiguration("a server needs certificateChainFile and privateKeyFile")
        }
        if configuration.requireClientCertificate && configuration.trustedCAFile == nil {
            throw TLSError.invalidConfiguration("requireClientCertificate needs trustedCAFile (the CA of client certificates)")
        }
        self.pointer = try Self.makeContext(method: TLS_server_method())
        self.isClient = false
        self.configuration = configuration
        // From here on, deinit frees the context if a later step throws.
        try loadIdentity(certificate: certificate, key: key)
        _ = caas_SSL_CTX_set_standard_options(pointer, 1)
        if configuration.requireClientCertificate, let ca = configuration.trustedCAFile {
            try loadTrust(caFile: ca)
            // The list of acceptable CAs sent in the CertificateRequest.
            guard let names = SSL_load_client_CA_file(ca) else {
                throw TLSError.openSSL(operation: "reading CA names from \(ca)", message: OpenSSLErrorQueue.drain())
            }
            SSL_CTX_set_client_CA_list(pointer, names)
            SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            // Required when client certificates are verified and sessions are resumed.
            let sessionContext: [UInt8] = Array("caas".utf8)
            _ = SSL_CTX_set_session_id_context(pointer, sessionContext, UInt32(sessionContext.count))
        } else {
            SSL_CTX_set_verify(pointer, SSL_VERIFY_NONE, nil)
        }
    }

    public init(client configuration: TLSConfiguration) throws {
        if (configuration.certificateChainFile == nil) != (configuration.privateKeyFile == nil) {
            throw TLSError.invalidConfiguration("a client certificate needs both certificateChainFile and privateKeyFile")
        }
        self.pointer = try Self.makeContext(method: TLS_client_method())
        self.isClient = true
        self.configuration = configuration
        if let certificate = configuration.certificateChainFile, let key = configuration.privateKeyFile {
            try loadIdentity(certificate: certificate, key: key)
        }
        if configuration.verifyPeer {
            if let ca = configuration.trustedCAFile {
                try loadTrust(caFile: ca)
            } else if SSL_CTX_set_default_verify_paths(pointer) != 1 {
                throw TLSError.openSSL(operation: "loading the system's trusted roots", message: OpenSSLErrorQueue.drain())
            }
            SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(pointer, SSL_VERIFY_NONE, nil)
        }
    }

    deinit { SSL_CTX_free(pointer) }

    private static func makeContext(method: OpaquePointer?) throws -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(method) else {
            throw TLSError.openSSL(operation: "SSL_CTX_new", message: OpenSSLErrorQueue.drain())
        }
        guard caas_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1,
              SSL_CTX_set_cipher_list(context, tls12Ciphers) == 1 else {
            SSL_CTX_free(context)
            throw TLSError.openSSL(operation: "setting TLS versions and ciphers", message: OpenSSLErrorQueue.drain())
        }
        _ = caas_SSL_CTX_set_standard_options(context, 0)   // no compression, no renegotiation
        _ = caas_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        return context
    }

    private func loadIdentity(certificate: String, key: String) throws {
        try Self.checkReadable(certificate, role: "certificate")
        try Self.checkReadable(key, role: "private key")
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_certificate_chain_file(pointer, certificate) == 1 else {
            throw TLSError.openSSL(operation: "loading certificate chain \(certificate)", message: OpenSSLErrorQueue.drain())
        }
        guard SSL_CTX_use_PrivateKey_file(pointer, key, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.openSSL(operation: "loading private key \(key)", message: OpenSSLErrorQueue.drain())
        }
        guard SSL_CTX_check_private_key(pointer) == 1 else {
            throw TLSError.openSSL(operation: "matching private key \(key) with certificate \(certificate)", message: OpenSSLErrorQueue.drain())
        }
    }

    private func loadTrust(caFile: String) throws {
        try Self.checkReadable(caFile, role: "trusted CA")
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_load_verify_locations(pointer, caFile, nil) == 1 else {
            throw TLSError.openSSL(operation: "loading trusted CA \(caFile)", message: OpenSSLErrorQueue.drain())
        }
    }

    private static func checkReadable(_ path: String, role: String) throws {
        guard access(path, R_OK) == 0 else {
            if FileManager.default.fileExists(atPath: path) {
                throw TLSError.openSSL(operation: "reading \(role) file \(path)", message: "permission denied")
            }
            throw TLSError.fileNotFound(role: role, path: path)
        }
    }
}
