import CaaSCrypto
import CaaSModel
import CaaSStore
import Foundation
import Synchronization

/// The control plane's certificate authorities and what they issue.
///
/// Two levels (README "Agent channel"): the control-plane CA, a self-signed root made once per
/// installation, signs one CA per cluster (made at the cluster's first join) and the control
/// plane's own certificates — its agent-facing listener and its push client, re-made at each
/// start. A cluster's CA signs its agents' certificates. Agents trust the control-plane CA only;
/// the listener trusts it too (an agent's chain includes its cluster CA), and then checks who
/// the certificate names and that it is a live certificate of that cluster's agent.
/// CA keys are stored sealed with AES-256-GCM under `CAAS_SECRETS_KEY`.
public final class AgentCertificates: Sendable {
    public let root: CertificateAuthority
    let store: Store
    let box: SecretBox
    private let clusterAuthorities = Mutex<[String: CertificateAuthority]>([:])

    init(root: CertificateAuthority, store: Store, box: SecretBox) {
        self.root = root
        self.store = store
        self.box = box
    }

    /// Loads the control-plane CA, making it on first use (replicas racing: one row wins, all use it).
    public static func load(store: Store, secretsKey: [UInt8]) async throws -> AgentCertificates {
        let box = try SecretBox(key: secretsKey)
        if let stored = try await store.systemTransaction({ try $0.controlPlaneAuthority() }) {
            return AgentCertificates(root: try open(stored, box: box, what: "the control-plane CA"), store: store, box: box)
        }
        let made = try CertificateAuthority.create(commonName: "caas control plane CA")
        let candidate = StoredAuthority(certificatePEM: try made.certificate.pem(), sealedKey: try made.key.sealed(with: box))
        let stored = try await store.systemTransaction { tx -> StoredAuthority in
            try tx.insertControlPlaneAuthority(candidate)
            guard let stored = try tx.controlPlaneAuthority() else { throw StoreError.notFound(kind: "control-plane CA", id: "1") }
            return stored
        }
        return AgentCertificates(root: try open(stored, box: box, what: "the control-plane CA"), store: store, box: box)
    }

    static func open(_ stored: StoredAuthority, box: SecretBox, what: String) throws -> CertificateAuthority {
        let key: PrivateKey
        do {
            key = try PrivateKey(sealed: stored.sealedKey, box: box)
        } catch {
            throw ConfigurationError(setting: "CAAS_SECRETS_KEY",
                                     message: "cannot open the sealed key of \(what): the key differs from the one it was sealed with")
        }
        return try CertificateAuthority(certificate: try Certificate(pem: stored.certificatePEM), key: key)
    }

    /// The cluster's CA, made (and signed by the control-plane CA) on first use.
    public func clusterAuthority(clusterID: String, tenantID: String) async throws -> CertificateAuthority {
        if let cached = clusterAuthorities.withLock({ $0[clusterID] }) { return cached }
        let stored: StoredAuthority
        if let existing = try await store.systemTransaction({ try $0.clusterAuthority(clusterID: clusterID) }) {
            stored = existing
        } else {
            let made = try CertificateAuthority.create(commonName: "caas cluster \(clusterID) CA", issuer: root)
            let candidate = StoredAuthority(certificatePEM: try made.certificate.pem(), sealedKey: try made.key.sealed(with: box))
            stored = try await store.systemTransaction { try $0.insertClusterAuthority(candidate, clusterID: clusterID, tenantID: tenantID) }
        }
        let authority = try Self.open(stored, box: box, what: "the CA of cluster \(clusterID)")
        clusterAuthorities.withLock { $0[clusterID] = authority }
        return authority
    }

    /// The CA certificate of a cluster that has one (nil before its first join).
    func clusterCertificate(clusterID: String) async throws -> Certificate? {
        if let cached = clusterAuthorities.withLock({ $0[clusterID] }) { return cached.certificate }
        guard let stored = try await store.systemTransaction({ try $0.clusterAuthority(clusterID: clusterID) }) else { return nil }
        return try Certificate(pem: stored.certificatePEM)
    }

    /// Signs an agent's request: identity `caas://cluster/<cluster>/agent/<agent>`, client and
    /// server use (the agent also serves the push endpoint), the endpoint's host as a name.
    public func issueAgentCertificate(_ request: CertificateSigningRequest, clusterID: String, tenantID: String, agentID: String,
                                      endpoint: String?, validity: TimeInterval) async throws -> (certificate: Certificate, body: (chain: String, anchor: String)) {
        let authority = try await clusterAuthority(clusterID: clusterID, tenantID: tenantID)
        var names = CertificateAuthority.Names(uris: [CaaSIdentity.agent(clusterID: clusterID, agentID: agentID).uri])
        if let host = endpoint.flatMap(CertificateNames.host(ofURL:)) {
            if CertificateNames.isIPAddress(host) { names.ipAddresses.append(host) } else { names.dnsNames.append(host) }
        }
        let certificate = try authority.sign(request, commonName: agentID, names: names, usage: .clientAndServer, validity: validity)
        let chain = try certificate.pem() + (try authority.certificate.pem())
        return (certificate, (chain, try root.certificate.pem()))
    }

    /// Files of the control plane's own TLS identities, in a private directory (0700, files 0600).
    public struct IdentityFiles: Sendable {
        public var directory: String
        public var trustAnchor: String
        public var listenerCertificate: String
        public var listenerKey: String
        public var clientCertificate: String
        public var clientKey: String

        /// Removes the directory (at shutdown).
        public func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Makes the listener's server certificate (names: `names`) and the push client certificate
    /// (identity `caas://control-plane`), both fresh keys signed by the control-plane CA, and
    /// writes them with the trust anchor into a new private directory.
    public func writeControlPlaneIdentities(names: [String], validity: TimeInterval) throws -> IdentityFiles {
        var serverNames = CertificateAuthority.Names(uris: [CaaSIdentity.controlPlane.uri])
        for name in names where !name.isEmpty {
            if CertificateNames.isIPAddress(name) {
                if !serverNames.ipAddresses.contains(name) { serverNames.ipAddresses.append(name) }
            } else if !serverNames.dnsNames.contains(name) {
                serverNames.dnsNames.append(name)
            }
        }
        let serverKey = try PrivateKey.generateP256()
        let server = try root.issue(for: serverKey.publicKey, commonName: "caas control plane", names: serverNames, usage: .server, validity: validity)
        let clientKey = try PrivateKey.generateP256()
        let client = try root.issue(for: clientKey.publicKey, commonName: "caas control plane", names: .init(uris: [CaaSIdentity.controlPlane.uri]),
                                    usage: .client, validity: validity)
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("caas-agent-channel-XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard let made = mkdtemp(&buffer) else { throw ConfigurationError(setting: "TMPDIR", message: "cannot make a private directory") }
        let directory = String(cString: made)
        chmod(directory, 0o700)
        let files = IdentityFiles(directory: directory, trustAnchor: directory + "/ca.pem",
                                  listenerCertificate: directory + "/listener.pem", listenerKey: directory + "/listener-key.pem",
                                  clientCertificate: directory + "/client.pem", clientKey: directory + "/client-key.pem")
        try PrivateFile.write(try root.certificate.pem(), to: files.trustAnchor)
        try PrivateFile.write(try server.pem(), to: files.listenerCertificate)
        try PrivateFile.write(try serverKey.pem(), to: files.listenerKey)
        try PrivateFile.write(try client.pem(), to: files.clientCertificate)
        try PrivateFile.write(try clientKey.pem(), to: files.clientKey)
        return files
    }
}

/// Writes files only their owner can read (0600), atomically (temporary file, then rename).
enum PrivateFile {
    static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ConfigurationError(setting: path, message: "cannot write: \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, 0o600)
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ConfigurationError(setting: path, message: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
