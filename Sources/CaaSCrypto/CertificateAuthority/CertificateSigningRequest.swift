import COpenSSL
import Foundation

/// A PKCS#10 certificate signing request (OpenSSL `X509_REQ`): the agent makes one with its new
/// key; the control plane checks its self-signature and signs the public key in it. The subject
/// and requested names are informative only: the certificate authority decides the identity.
public final class CertificateSigningRequest: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_REQ_free(pointer) }

    /// A request for `key`'s public half with subject `CN=commonName`, signed with `key` (SHA-256).
    public convenience init(key: PrivateKey, commonName: String) throws {
        guard let request = X509_REQ_new() else { throw CryptoError.openSSL("X509_REQ_new") }
        self.init(owning: request)
        guard X509_REQ_set_version(request, 0) == 1 else { throw CryptoError.openSSL("X509_REQ_set_version") }
        guard let name = X509_REQ_get_subject_name(request),
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1 else {
            throw CryptoError.openSSL("setting the request's subject")
        }
        guard X509_REQ_set_pubkey(request, key.pointer) == 1 else { throw CryptoError.openSSL("X509_REQ_set_pubkey") }
        guard X509_REQ_sign(request, key.pointer, EVP_sha256()) > 0 else { throw CryptoError.openSSL("X509_REQ_sign") }
    }

    /// Reads `-----BEGIN CERTIFICATE REQUEST-----` text.
    public convenience init(pem: String) throws {
        let request = try OpenSSLBuffers.reading(Array(pem.utf8)) { bio in PEM_read_bio_X509_REQ(bio, nil, nil, nil) }
        guard let request else { throw CryptoError.openSSL("reading a PEM certificate request") }
        self.init(owning: request)
    }

    public func pem() throws -> String {
        String(decoding: try OpenSSLBuffers.writing("PEM_write_bio_X509_REQ") { PEM_write_bio_X509_REQ($0, pointer) == 1 }, as: UTF8.self)
    }

    public var subjectCommonName: String? { Certificate.commonName(X509_REQ_get_subject_name(pointer)) }

    public var publicKey: PublicKey? {
        guard let key = X509_REQ_get_pubkey(pointer) else { return nil }
        return PublicKey(owning: key)
    }

    /// Whether the request is signed by the private half of the key it carries (proof of possession).
    public var hasValidSignature: Bool {
        guard let key = X509_REQ_get0_pubkey(pointer) else { return false }
        let ok = X509_REQ_verify(pointer, key) == 1
        ERR_clear_error()
        return ok
    }
}
