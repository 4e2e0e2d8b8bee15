import COpenSSL
import Foundation

/// An EC P-256 private key (OpenSSL `EVP_PKEY`), with its PEM forms and sealing at rest.
///
/// `@unchecked Sendable`: the key never changes after creation; OpenSSL 3 allows concurrent
/// signing with one `EVP_PKEY`.
public final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// A fresh key on the NIST P-256 curve.
    public static func generateP256() throws(CryptoError) -> PrivateKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw .openSSL("EVP_PKEY_CTX_new_from_name(EC)") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw .openSSL("EVP_PKEY_keygen_init") }
        guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else { throw .openSSL("EVP_PKEY_CTX_set_group_name(P-256)") }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw .openSSL("EVP_PKEY_generate") }
        return PrivateKey(owning: key)
    }

    /// Reads an unencrypted PEM private key (PKCS#8 `PRIVATE KEY` or `EC PRIVATE KEY`).
    public convenience init(pem: String) throws {
        let key = try OpenSSLBuffers.reading(Array(pem.utf8)) { bio in PEM_read_bio_PrivateKey(bio, nil, nil, nil) }
        guard let key else { throw CryptoError.openSSL("reading a PEM private key") }
        self.init(owning: key)
    }

    /// Reads a PKCS#8 PEM private key encrypted under `passphrase` (`ENCRYPTED PRIVATE KEY`).
    public convenience init(pem: String, passphrase: [UInt8]) throws {
        var pass = passphrase + [0]
        let key = try OpenSSLBuffers.reading(Array(pem.utf8)) { bio in
            pass.withUnsafeMutableBytes { PEM_read_bio_PrivateKey(bio, nil, nil, $0.baseAddress) }
        }
        guard let key else { throw CryptoError.openSSL("reading an encrypted PEM private key") }
        self.init(owning: key)
    }

    /// PKCS#8 PEM, unencrypted (`-----BEGIN PRIVATE KEY-----`): for files with mode 0600.
    public func pem() throws -> String {
        let bytes = try OpenSSLBuffers.writing("PEM_write_bio_PKCS8PrivateKey") { bio in
            PEM_write_bio_PKCS8PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// PKCS#8 PEM encrypted with AES-256-CBC under `passphrase` (PBES2, OpenSSL's key derivation).
    public func encryptedPEM(passphrase: [UInt8]) throws -> String {
        precondition(!passphrase.isEmpty, "an encrypted key needs a passphrase")
        var pass = passphrase.map { CChar(bitPattern: $0) }
        let bytes = try OpenSSLBuffers.writing("PEM_write_bio_PKCS8PrivateKey(aes-256-cbc)") { bio in
            PEM_write_bio_PKCS8PrivateKey(bio, pointer, EVP_aes_256_cbc(), &pass, Int32(pass.count), nil, nil) == 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The key sealed with AES-256-GCM (`SecretBox`) for storage: what the database keeps.
    public func sealed(with box: SecretBox) throws -> [UInt8] {
        try box.seal(Array(try pem().utf8))
    }

    /// Opens a key sealed by `sealed(with:)`; a wrong key-encryption key fails.
    public convenience init(sealed: [UInt8], box: SecretBox) throws {
        let pem = try box.open(sealed)
        try self.init(pem: String(decoding: pem, as: UTF8.self))
    }

    /// The public half.
    public var publicKey: PublicKey {
        EVP_PKEY_up_ref(pointer)
        return PublicKey(owning: pointer)
    }
}

/// A public key (`EVP_PKEY` without the private half, or borrowed from a key pair).
public final class PublicKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// SubjectPublicKeyInfo in DER: equal keys have equal bytes.
    public func der() throws -> [UInt8] {
        let length = i2d_PUBKEY(pointer, nil)
        guard length > 0 else { throw CryptoError.openSSL("i2d_PUBKEY") }
        var out = [UInt8](repeating: 0, count: Int(length))
        _ = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_PUBKEY(pointer, &cursor)
        }
        return out
    }

    /// `"EC"`, `"RSA"`, … and the curve or size, e.g. `EC P-256`.
    public var algorithm: String {
        let id = EVP_PKEY_get_base_id(pointer)
        if id == EVP_PKEY_EC {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            if EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 {
                return "EC " + String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            return "EC"
        }
        if id == EVP_PKEY_RSA { return "RSA \(EVP_PKEY_get_bits(pointer))" }
        return "type \(id)"
    }

    /// Whether this is a key the certificate authority signs for: EC P-256 or P-384, or RSA ≥ 2048.
    public var isAcceptable: Bool {
        switch algorithm {
        case "EC P-256", "EC prime256v1", "EC P-384", "EC secp384r1": true
        default: EVP_PKEY_get_base_id(pointer) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pointer) >= 2048
        }
    }
}
