import CaaSCrypto
import CaaSHTTP
import CaaSModel
import CaaSStore
import Foundation

/// Who an mTLS caller is: the agent its certificate names, checked on every call.
public struct AuthenticatedAgent: Sendable, Equatable {
    public var clusterID: String
    public var agentID: String
    public var tenantID: String
}

/// The agent authenticator of the scheduler's agent endpoints, by client certificate.
///
/// The TLS handshake already verified the chain to the control-plane CA (and the validity
/// period). Here, for each call: the certificate names exactly one agent
/// (`caas://cluster/<cluster>/agent/<agent>`), its cluster's CA signed it, it has not expired,
/// and its serial is one the control plane issued to that agent of that cluster, neither the
/// certificate nor the agent revoked. The cluster it answers is the one the caller may speak for.
/// An authenticated agent of a suspended tenant is refused with 403.
public struct CertificateAgentAuthenticator: AgentAuthenticator {
    public let store: Store
    public let certificates: AgentCertificates

    public init(store: Store, certificates: AgentCertificates) {
        self.store = store
        self.certificates = certificates
    }

    public func clusterID(for credentials: AgentCredentials) async throws -> String {
        try await agent(for: credentials).clusterID
    }

    /// The checks above; throws `AgentAPIError.unauthenticated` (with nothing more for the caller).
    public func agent(for credentials: AgentCredentials, now: Date = Date()) async throws -> AuthenticatedAgent {
        guard let presented = credentials.certificate,
              case .agent(let clusterID, let agentID)? = CaaSIdentity(certificateURIs: presented.uris),
              presented.notAfter > now, presented.notBefore <= now.addingTimeInterval(300) else {
            throw AgentAPIError.unauthenticated
        }
        guard let clusterCA = try await certificates.clusterCertificate(clusterID: clusterID),
              (try? Certificate(der: presented.derBytes))?.isSigned(by: clusterCA) == true else {
            throw AgentAPIError.unauthenticated
        }
        let serial = presented.serialNumber
        guard let record = try await store.systemTransaction({ try $0.agentCertificate(serial: serial) }),
              record.clusterID == clusterID, record.agentID == agentID, !record.certificateRevoked, record.agentStatus == "active" else {
            throw AgentAPIError.unauthenticated
        }
        guard record.tenantStatus == "active" else { throw AgentAPIError.tenantSuspended }
        return AuthenticatedAgent(clusterID: clusterID, agentID: agentID, tenantID: record.tenantID)
    }
}
