import COpenSSL
import Foundation

/// Chain verification with OpenSSL's verifier (`X509_verify_cert`): the same checks a TLS
/// handshake makes (signatures, validity periods, CA constraints, path length), at a chosen time.
public enum CertificateVerifier {
    /// Checks that `leaf` chains to one of `roots` through `intermediates` and is valid at `time`.
    /// Throws with OpenSSL's reason ("certificate has expired", "unable to get local issuer
    /// certificate", …) otherwise.
    public static func verify(_ leaf: Certificate, intermediates: [Certificate] = [], roots: [Certificate], at time: Date = Date()) throws {
        guard let store = X509_STORE_new() else { throw CryptoError.openSSL("X509_STORE_new") }
        defer { X509_STORE_free(store) }
        for root in roots {
            guard X509_STORE_add_cert(store, root.pointer) == 1 else { throw CryptoError.openSSL("X509_STORE_add_cert") }
        }
        guard let untrusted = caas_sk_X509_new_null() else { throw CryptoError.openSSL("sk_X509_new_null") }
        defer { caas_sk_X509_free(untrusted) }   // the stack only; the certificates stay owned by their wrappers
        for certificate in intermediates { _ = caas_sk_X509_push(untrusted, certificate.pointer) }
        guard let context = X509_STORE_CTX_new() else { throw CryptoError.openSSL("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, leaf.pointer, untrusted) == 1 else { throw CryptoError.openSSL("X509_STORE_CTX_init") }
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context), time_t(time.timeIntervalSince1970))
        let result = withExtendedLifetime((leaf, intermediates, roots)) { X509_verify_cert(context) }
        guard result == 1 else {
            let code = X509_STORE_CTX_get_error(context)
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            ERR_clear_error()
            throw CryptoError(operation: "certificate verification: \(reason)", code: UInt(bitPattern: Int(code)))
        }
    }
}

/// The identities caas writes into certificates as a URI subject alternative name.
///
/// - `caas://cluster/<cluster id>/agent/<agent id>`: a cluster's agent;
/// - `caas://control-plane`: the control plane (its push client and its agent-facing listener).
public enum CaaSIdentity: Sendable, Equatable, Hashable, CustomStringConvertible {
    case agent(clusterID: String, agentID: String)
    case controlPlane

    public var uri: String {
        switch self {
        case .agent(let cluster, let agent): "caas://cluster/\(cluster)/agent/\(agent)"
        case .controlPlane: "caas://control-plane"
        }
    }

    public var description: String { uri }

    /// Reads an identity URI; nil for anything else (ids must be plain `[a-z0-9_]` tokens).
    public init?(uri: String) {
        if uri == "caas://control-plane" {
            self = .controlPlane
            return
        }
        guard uri.hasPrefix("caas://cluster/") else { return nil }
        let parts = uri.dropFirst("caas://cluster/".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "agent", Self.isToken(parts[0]), Self.isToken(parts[2]) else { return nil }
        self = .agent(clusterID: String(parts[0]), agentID: String(parts[2]))
    }

    /// The one caas identity of a certificate; nil when it has none or several.
    public init?(certificateURIs uris: [String]) {
        let identities = uris.compactMap(CaaSIdentity.init(uri:))
        guard identities.count == 1 else { return nil }
        self = identities[0]
    }

    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 64 && text.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || ($0 >= 65 && $0 <= 90) }
    }
}
