import COpenSSL
import Foundation

/// A certificate authority: its certificate and private key, and what it signs.
///
/// caas uses two levels (see README "Agent channel"): one control-plane CA (self-signed root),
/// which signs one CA per cluster and the control plane's own certificates (its agent-facing
/// listener, its push client); each cluster CA signs the certificates of that cluster's agents.
/// Keys are EC P-256, signatures ECDSA with SHA-256, serial numbers 127 random bits.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    public let key: PrivateKey

    public init(certificate: Certificate, key: PrivateKey) throws {
        guard certificate.matches(key) else { throw CryptoError(operation: "the CA key does not belong to the CA certificate") }
        guard certificate.isCertificateAuthority else { throw CryptoError(operation: "the certificate is not a CA (basicConstraints)") }
        self.certificate = certificate
        self.key = key
    }

    /// Ten years (365.25-day years).
    public static let defaultValidity: TimeInterval = 10 * 365.25 * 86_400
    /// Accepted clock skew: certificates start this long before they are made.
    static let backdate: TimeInterval = 300

    /// A new CA with a fresh P-256 key: self-signed when `issuer` is nil, otherwise signed by it
    /// (a subordinate CA that may sign leaf certificates only: pathlen 0).
    /// Extensions: basicConstraints CA:TRUE (critical), keyUsage keyCertSign and cRLSign (critical),
    /// subject key identifier, authority key identifier.
    public static func create(commonName: String, validity: TimeInterval = defaultValidity,
                              issuer: CertificateAuthority? = nil, now: Date = Date()) throws -> CertificateAuthority {
        let key = try PrivateKey.generateP256()
        let builder = try CertificateBuilder(subjectKey: key.publicKey, commonName: commonName, validity: validity, now: now)
        let constraints = issuer == nil ? "critical,CA:TRUE" : "critical,CA:TRUE,pathlen:0"
        let certificate = try builder.finish(
            issuer: issuer?.certificate, signingKey: issuer?.key ?? key,
            extensions: [(NID_basic_constraints, constraints), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                         (NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid:always")])
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// What a leaf certificate may be used for (extendedKeyUsage).
    public enum Usage: Sendable {
        case client, server, clientAndServer

        var extendedKeyUsage: String {
            switch self {
            case .client: "clientAuth"
            case .server: "serverAuth"
            case .clientAndServer: "clientAuth,serverAuth"
            }
        }
    }

    /// The names a leaf certificate carries as subject alternative names.
    public struct Names: Sendable, Equatable {
        public var uris: [String]
        public var dnsNames: [String]
        public var ipAddresses: [String]

        public init(uris: [String] = [], dnsNames: [String] = [], ipAddresses: [String] = []) {
            self.uris = uris
            self.dnsNames = dnsNames
            self.ipAddresses = ipAddresses
        }

        /// `URI:…,DNS:…,IP:…` as OpenSSL's configuration syntax wants it; nil when empty or when a
        /// name holds characters that would break that syntax.
        var configurationValue: String? {
            let parts = uris.map { "URI:\($0)" } + dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }
            guard !parts.isEmpty else { return nil }
            for part in parts where part.contains(",") || part.contains("\n") || part.utf8.contains(where: { $0 < 32 || $0 > 126 }) {
                return nil
            }
            return parts.joined(separator: ",")
        }
    }

    /// A leaf certificate for `publicKey`: basicConstraints CA:FALSE (critical), keyUsage
    /// digitalSignature (critical), the extended key usage, and the names as SANs.
    public func issue(for publicKey: PublicKey, commonName: String, names: Names, usage: Usage,
                      validity: TimeInterval, now: Date = Date()) throws -> Certificate {
        guard validity > 0 else { throw CryptoError(operation: "a certificate's validity must be positive") }
        guard let san = names.configurationValue else {
            throw CryptoError(operation: "a leaf certificate needs at least one plain-ASCII name without commas")
        }
        // A leaf never outlives its issuer.
        let latest = certificate.notAfter.timeIntervalSince(now)
        let builder = try CertificateBuilder(subjectKey: publicKey, commonName: commonName, validity: min(validity, latest), now: now)
        return try builder.finish(
            issuer: certificate, signingKey: key,
            extensions: [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                         (NID_ext_key_usage, usage.extendedKeyUsage), (NID_subject_key_identifier, "hash"),
                         (NID_authority_key_identifier, "keyid:always"), (NID_subject_alt_name, san)])
    }

    /// Signs a request's key after checking its proof of possession and key type. The request's
    /// own subject and names are ignored: `commonName` and `names` are the CA's decision.
    public func sign(_ request: CertificateSigningRequest, commonName: String, names: Names, usage: Usage,
                     validity: TimeInterval, now: Date = Date()) throws -> Certificate {
        guard request.hasValidSignature else { throw CryptoError(operation: "the certificate request's signature does not verify") }
        guard let publicKey = request.publicKey else { throw CryptoError(operation: "the certificate request has no public key") }
        guard publicKey.isAcceptable else {
            throw CryptoError(operation: "the certificate request's key (\(publicKey.algorithm)) is not EC P-256/P-384 or RSA ≥ 2048")
        }
        return try issue(for: publicKey, commonName: commonName, names: names, usage: usage, validity: validity, now: now)
    }
}

/// Fills one `X509` step by step; `finish` signs it and hands it over.
final class CertificateBuilder {
    private var x509: OpaquePointer?

    init(subjectKey: PublicKey, commonName: String, validity: TimeInterval, now: Date) throws {
        guard let x509 = X509_new() else { throw CryptoError.openSSL("X509_new") }
        self.x509 = x509
        guard X509_set_version(x509, 2) == 1 else { throw CryptoError.openSSL("X509_set_version") }
        try Self.setRandomSerial(x509)
        let start = time_t(now.timeIntervalSince1970 - CertificateAuthority.backdate)
        var end = time_t(now.timeIntervalSince1970 + validity)
        var begin = start
        guard X509_time_adj_ex(X509_getm_notBefore(x509), 0, 0, &begin) != nil,
              X509_time_adj_ex(X509_getm_notAfter(x509), 0, 0, &end) != nil else {
            throw CryptoError.openSSL("setting the validity period")
        }
        guard let name = X509_get_subject_name(x509),
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1 else {
            throw CryptoError.openSSL("setting the subject")
        }
        guard X509_set_pubkey(x509, subjectKey.pointer) == 1 else { throw CryptoError.openSSL("X509_set_pubkey") }
    }

    deinit { if let x509 { X509_free(x509) } }

    /// 16 random bytes with the top bit clear: a positive 127-bit serial number.
    private static func setRandomSerial(_ x509: OpaquePointer) throws {
        var bytes = try SecureRandom.bytes(16)
        bytes[0] &= 0x7f
        if bytes[0] == 0 { bytes[0] = 0x01 }
        guard let bignum = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw CryptoError.openSSL("BN_bin2bn") }
        defer { BN_free(bignum) }
        guard let serial = X509_get_serialNumber(x509), BN_to_ASN1_INTEGER(bignum, serial) != nil else {
            throw CryptoError.openSSL("setting the serial number")
        }
    }

    /// Issuer name and extensions (OpenSSL configuration syntax), then the signature.
    func finish(issuer: Certificate?, signingKey: PrivateKey, extensions: [(Int32, String)]) throws -> Certificate {
        guard let x509 else { throw CryptoError(operation: "certificate already finished") }
        let issuerPointer = issuer?.pointer ?? x509
        guard X509_set_issuer_name(x509, X509_get_subject_name(issuerPointer)) == 1 else { throw CryptoError.openSSL("X509_set_issuer_name") }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuerPointer, x509, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw CryptoError.openSSL("extension \(String(cString: OBJ_nid2sn(nid))) = \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw CryptoError.openSSL("X509_add_ext") }
        }
        guard X509_sign(x509, signingKey.pointer, EVP_sha256()) > 0 else { throw CryptoError.openSSL("X509_sign") }
        self.x509 = nil
        return Certificate(owning: x509)
    }
}
