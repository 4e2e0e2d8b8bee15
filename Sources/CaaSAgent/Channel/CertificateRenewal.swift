import CaaSCrypto
import Foundation

/// When an agent renews its certificate: a pure decision on the certificate's validity period.
public enum CertificateRenewal {
    /// The moment to renew: `fraction` (two thirds by default) of the way from notBefore to notAfter.
    public static func renewalTime(notBefore: Date, notAfter: Date, fraction: Double = 2.0 / 3.0) -> Date {
        notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) * min(max(fraction, 0.1), 0.95))
    }

    /// Whether to renew now: the renewal time passed, or the certificate does not name the host the
    /// agent now serves on (the control plane checks that name when it pushes).
    public static func isDue(_ certificate: Certificate, endpointHost: String?, now: Date = Date(), fraction: Double = 2.0 / 3.0) -> Bool {
        if now >= renewalTime(notBefore: certificate.notBefore, notAfter: certificate.notAfter, fraction: fraction) { return true }
        if let host = endpointHost, !certificate.ipAddresses.contains(host), !certificate.dnsNames.contains(host) { return true }
        return false
    }
}
