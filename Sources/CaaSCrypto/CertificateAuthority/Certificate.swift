import COpenSSL
import Foundation

/// An X.509 certificate (OpenSSL `X509`), read-only: PEM and DER forms, names, validity,
/// identity URIs, and signature checks.
///
/// `@unchecked Sendable`: never mutated after creation (the issuer builds it before wrapping).
public final class Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_free(pointer) }

    /// The first certificate of PEM text.
    public convenience init(pem: String) throws {
        let x509 = try OpenSSLBuffers.reading(Array(pem.utf8)) { bio in PEM_read_bio_X509(bio, nil, nil, nil) }
        guard let x509 else { throw CryptoError.openSSL("reading a PEM certificate") }
        self.init(owning: x509)
    }

    public convenience init(der: [UInt8]) throws {
        let x509: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let x509 else { throw CryptoError.openSSL("reading a DER certificate") }
        self.init(owning: x509)
    }

    /// Every certificate of PEM text, in order (a chain file: leaf first).
    public static func chain(pem: String) throws -> [Certificate] {
        try OpenSSLBuffers.reading(Array(pem.utf8)) { bio in
            var result: [Certificate] = []
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) { result.append(Certificate(owning: x509)) }
            ERR_clear_error()   // the end of the text reads as an error
            guard !result.isEmpty else { throw CryptoError(operation: "no certificate in the PEM text") }
            return result
        }
    }

    public func pem() throws -> String {
        String(decoding: try OpenSSLBuffers.writing("PEM_write_bio_X509") { PEM_write_bio_X509($0, pointer) == 1 }, as: UTF8.self)
    }

    public func der() throws -> [UInt8] {
        let length = i2d_X509(pointer, nil)
        guard length > 0 else { throw CryptoError.openSSL("i2d_X509") }
        var out = [UInt8](repeating: 0, count: Int(length))
        _ = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_X509(pointer, &cursor)
        }
        return out
    }

    /// Upper-case hexadecimal, as `openssl x509 -serial` (and CaaSHTTP's `PeerCertificate`) print it.
    public var serialNumber: String {
        guard let serial = X509_get_serialNumber(pointer), let bignum = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bignum) }
        guard let hex = BN_bn2hex(bignum) else { return "" }
        defer { caas_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    public var notBefore: Date { Self.date(X509_get0_notBefore(pointer)) }
    public var notAfter: Date { Self.date(X509_get0_notAfter(pointer)) }

    public var subjectCommonName: String? { Self.commonName(X509_get_subject_name(pointer)) }
    public var issuerCommonName: String? { Self.commonName(X509_get_issuer_name(pointer)) }

    /// Whether basicConstraints says CA:TRUE.
    public var isCertificateAuthority: Bool { X509_check_ca(pointer) >= 1 }

    /// Subject alternative names of type URI, in certificate order.
    public var uris: [String] { names(GEN_URI) }
    public var dnsNames: [String] { names(GEN_DNS) }
    /// IP address alternative names as text (`127.0.0.1`, `::1`).
    public var ipAddresses: [String] {
        guard let names = caas_X509_subject_alt_names(pointer) else { return [] }
        defer { caas_GENERAL_NAMES_free(names) }
        var result: [String] = []
        for index in 0..<caas_GENERAL_NAMES_count(names) {
            guard let name = caas_GENERAL_NAMES_value(names, index) else { continue }
            var type: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(name, &type), type == GEN_IPADD else { continue }
            let string = value.assumingMemoryBound(to: ASN1_STRING.self)
            guard let data = ASN1_STRING_get0_data(string) else { continue }
            let length = Int(ASN1_STRING_length(string))
            let family = length == 4 ? AF_INET : AF_INET6
            guard length == 4 || length == 16 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(family, data, &buffer, socklen_t(buffer.count)) != nil else { continue }
            result.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return result
    }

    public var publicKey: PublicKey? {
        guard let key = X509_get_pubkey(pointer) else { return nil }
        return PublicKey(owning: key)
    }

    /// Whether `key` is the private half of this certificate's public key.
    public func matches(_ key: PrivateKey) -> Bool {
        X509_check_private_key(pointer, key.pointer) == 1
    }

    /// Whether `issuer`'s key made this certificate's signature (no other check).
    public func isSigned(by issuer: Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.pointer) else { return false }
        let ok = X509_verify(pointer, key) == 1
        ERR_clear_error()
        return ok
    }

    /// SHA-256 over the DER form, lower-case hexadecimal.
    public func sha256Fingerprint() throws -> String {
        SHA256.hash(try der()).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Reading

    private func names(_ wanted: Int32) -> [String] {
        guard let names = caas_X509_subject_alt_names(pointer) else { return [] }
        defer { caas_GENERAL_NAMES_free(names) }
        var result: [String] = []
        for index in 0..<caas_GENERAL_NAMES_count(names) {
            guard let name = caas_GENERAL_NAMES_value(names, index) else { continue }
            var type: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(name, &type), type == wanted else { continue }
            let string = value.assumingMemoryBound(to: ASN1_STRING.self)
            guard let data = ASN1_STRING_get0_data(string) else { continue }
            result.append(String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self))
        }
        return result
    }

    static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var out: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&out, data)
        guard length >= 0, let out else { return nil }
        defer { caas_OPENSSL_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: Int(length)), as: UTF8.self)
    }

    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
