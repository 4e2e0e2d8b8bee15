import COpenSSL
import Foundation

/// What the engine reads out of an X.509 certificate (the peer's, after a handshake).
public struct PeerCertificate: Sendable, Equatable {
    public enum AlternativeName: Sendable, Equatable, Hashable {
        case dns(String)
        case uri(String)
        case ipAddress(String)
    }

    public var subjectCommonName: String?
    public var issuerCommonName: String?
    /// Subject alternative names of types DNS, URI and IP address, in certificate order.
    public var subjectAlternativeNames: [AlternativeName]
    /// Serial number as upper-case hexadecimal, as `openssl x509 -serial` prints it.
    public var serialNumber: String
    public var notBefore: Date
    public var notAfter: Date
    /// The certificate in DER.
    public var derBytes: [UInt8]
    /// SHA-256 over `derBytes`.
    public var sha256Fingerprint: [UInt8]

    public var dnsNames: [String] { subjectAlternativeNames.compactMap { if case .dns(let n) = $0 { n } else { nil } } }
    public var uris: [String] { subjectAlternativeNames.compactMap { if case .uri(let n) = $0 { n } else { nil } } }
    public var ipAddresses: [String] { subjectAlternativeNames.compactMap { if case .ipAddress(let n) = $0 { n } else { nil } } }
    /// `sha256Fingerprint` as lower-case hexadecimal without separators.
    public var sha256FingerprintHex: String { sha256Fingerprint.map { String(format: "%02x", $0) }.joined() }

    /// Reads a certificate from DER bytes.
    public init(der: [UInt8]) throws {
        OpenSSLErrorQueue.clear()
        let x509: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let x509 else {
            throw TLSError.openSSL(operation: "parsing a DER certificate", message: OpenSSLErrorQueue.drain())
        }
        defer { X509_free(x509) }
        try self.init(x509: x509)
    }

    /// Reads a certificate from PEM text (the first certificate in it).
    public init(pem: String) throws {
        OpenSSLErrorQueue.clear()
        let bytes = Array(pem.utf8)
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw TLSError.openSSL(operation: "BIO_new_mem_buf", message: OpenSSLErrorQueue.drain())
        }
        defer { BIO_free(bio) }
        // BIO_new_mem_buf does not copy; `bytes` outlives the BIO inside this scope.
        guard let x509 = withExtendedLifetime(bytes, { PEM_read_bio_X509(bio, nil, nil, nil) }) else {
            throw TLSError.openSSL(operation: "parsing a PEM certificate", message: OpenSSLErrorQueue.drain())
        }
        defer { X509_free(x509) }
        try self.init(x509: x509)
    }

    /// Reads a borrowed `X509*` (the caller keeps ownership).
    init(x509: OpaquePointer) throws {
        let length = i2d_X509(x509, nil)
        guard length > 0 else {
            throw TLSError.openSSL(operation: "encoding a certificate", message: OpenSSLErrorQueue.drain())
        }
        var der = [UInt8](repeating: 0, count: Int(length))
        _ = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_X509(x509, &cursor)
        }
        self.derBytes = der
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = der.withUnsafeBufferPointer { SHA256($0.baseAddress, $0.count, &digest) }
        self.sha256Fingerprint = digest
        self.subjectCommonName = Self.commonName(X509_get_subject_name(x509))
        self.issuerCommonName = Self.commonName(X509_get_issuer_name(x509))
        self.serialNumber = Self.serialHex(x509)
        self.notBefore = Self.date(X509_get0_notBefore(x509))
        self.notAfter = Self.date(X509_get0_notAfter(x509))
        self.subjectAlternativeNames = Self.alternativeNames(x509)
    }

    private static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
              let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        return utf8(data)
    }

    private static func utf8(_ string: UnsafePointer<ASN1_STRING>?) -> String? {
        guard let string else { return nil }
        var out: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&out, string)
        guard length >= 0, let out else { return nil }
        defer { caas_OPENSSL_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: Int(length)), as: UTF8.self)
    }

    private static func serialHex(_ x509: OpaquePointer) -> String {
        guard let serial = X509_get_serialNumber(x509), let bignum = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bignum) }
        guard let hex = BN_bn2hex(bignum) else { return "" }
        defer { caas_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    private static func alternativeNames(_ x509: OpaquePointer) -> [AlternativeName] {
        guard let names = caas_X509_subject_alt_names(x509) else { return [] }
        defer { caas_GENERAL_NAMES_free(names) }
        var result: [AlternativeName] = []
        for index in 0..<caas_GENERAL_NAMES_count(names) {
            guard let name = caas_GENERAL_NAMES_value(names, index) else { continue }
            var type: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(name, &type) else { continue }
            let string = value.assumingMemoryBound(to: ASN1_STRING.self)
            switch type {
            case GEN_DNS:
                if let text = asciiString(string) { result.append(.dns(text)) }
            case GEN_URI:
                if let text = asciiString(string) { result.append(.uri(text)) }
            case GEN_IPADD:
                if let text = ipString(string) { result.append(.ipAddress(text)) }
            default:
                continue
            }
        }
        return result
    }

    private static func asciiString(_ string: UnsafePointer<ASN1_STRING>) -> String? {
        guard let data = ASN1_STRING_get0_data(string) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }

    private static func ipString(_ string: UnsafePointer<ASN1_STRING>) -> String? {
        guard let data = ASN1_STRING_get0_data(string) else { return nil }
        let length = Int(ASN1_STRING_length(string))
        let family: Int32
        switch length {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, data, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
