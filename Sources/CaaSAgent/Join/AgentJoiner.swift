import CaaSCrypto
import CaaSHTTP
import CaaSModel
import Foundation

/// `caas-agent join`: a fresh key pair, a certificate request to `POST /v1/agent/join` with the
/// cluster's join token, and the answer (certificate, CA chain, agent id, the control plane's
/// agent URL) saved in the state directory. Later starts need no token.
public struct AgentJoiner: Sendable {
    /// The public API (`https://caas.example:8080`, `http://127.0.0.1:8080` in development).
    public var serverURL: String
    public var token: String
    /// The CA that signs the public API's certificate (nil: the system roots).
    public var caFile: String?
    /// Development only: do not verify the public API's certificate.
    public var insecureSkipVerify: Bool
    /// How the answer's trust anchor is believed where the channel itself cannot say who
    /// answered (`JoinTrust`).
    public var trust: JoinTrust
    public var stateDirectory: AgentStateDirectory
    /// Where this agent will serve its mTLS endpoint (`https://127.0.0.1:7443`).
    public var endpoint: String?
    public var hostname: String
    public var agentVersion: String

    public init(serverURL: String, token: String, caFile: String? = nil, insecureSkipVerify: Bool = false, trust: JoinTrust = .channel,
                stateDirectory: AgentStateDirectory, endpoint: String?, hostname: String = ProcessInfo.processInfo.hostName,
                agentVersion: String = "0.1.0") {
        self.serverURL = serverURL.hasSuffix("/") ? String(serverURL.dropLast()) : serverURL
        self.token = token
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
        self.trust = trust
        self.stateDirectory = stateDirectory
        self.endpoint = endpoint
        self.hostname = hostname
        self.agentVersion = agentVersion
    }

    /// Joins; answers the saved state and the control-plane CA's SHA-256 (to show the operator).
    @discardableResult
    public func join() async throws -> AgentStateDirectory.State {
        try await joinReporting().state
    }

    public func joinReporting() async throws -> (state: AgentStateDirectory.State, caFingerprint: String) {
        let authenticatedChannel = serverURL.lowercased().hasPrefix("https://") && !insecureSkipVerify
        if let refusal = trust.refusalBeforeSending(authenticatedChannel: authenticatedChannel) { throw AgentJoinError.insecure(refusal) }
        let key = try PrivateKey.generateP256()
        let csr = try CertificateSigningRequest(key: key, commonName: "caas-agent \(hostname)")
        let body = CertificateRequestBody(csr: try csr.pem(), hostname: hostname, endpoint: endpoint, agentVersion: agentVersion)
        let client = try HTTPClient(configuration: HTTPClientConfiguration(
            tls: TLSConfiguration(trustedCAFile: caFile, verifyPeer: !insecureSkipVerify), connectTimeout: .seconds(5), userAgent: "caas-agent"))
        defer { client.shutdown() }
        let request = try HTTPClientRequest(method: .post, url: serverURL + "/v1/agent/join",
                                            headers: ["Content-Type": "application/json", "Authorization": "Bearer \(token)"],
                                            body: .bytes(Array(try AgentWire.encoder().encode(body))))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw AgentJoinError.unreachable("\(serverURL): \(error)")
        }
        guard response.status == 201 else {
            throw AgentJoinError.refused(status: response.status, detail: Self.detail(response.body))
        }
        let issued: IssuedCertificateBody
        do {
            issued = try AgentWire.decoder().decode(IssuedCertificateBody.self, from: Data(response.body))
        } catch {
            throw AgentJoinError.badAnswer("\(error)")
        }
        try Self.check(issued, key: key)
        let fingerprint: String
        do { fingerprint = try Certificate(pem: issued.trustAnchor).sha256Fingerprint() } catch { throw AgentJoinError.badAnswer("\(error)") }
        if let refusal = trust.refusal(ofAnchor: fingerprint) { throw AgentJoinError.badAnswer(refusal) }
        try stateDirectory.save(issued: issued, key: key, serverURL: serverURL, endpoint: endpoint, renewal: false)
        return (try stateDirectory.loadState(), fingerprint)
    }

    /// The certificate is for our key, names this agent, and chains to the trust anchor.
    static func check(_ issued: IssuedCertificateBody, key: PrivateKey) throws {
        do {
            let chain = try Certificate.chain(pem: issued.certificateChain)
            let anchor = try Certificate(pem: issued.trustAnchor)
            guard chain[0].matches(key) else { throw AgentJoinError.badAnswer("the certificate is not for the key this agent sent") }
            guard CaaSIdentity(certificateURIs: chain[0].uris) == .agent(clusterID: issued.clusterId, agentID: issued.agentId) else {
                throw AgentJoinError.badAnswer("the certificate does not name agent \(issued.agentId) of cluster \(issued.clusterId)")
            }
            try CertificateVerifier.verify(chain[0], intermediates: Array(chain.dropFirst()), roots: [anchor])
        } catch let error as AgentJoinError {
            throw error
        } catch {
            throw AgentJoinError.badAnswer("\(error)")
        }
    }

    /// The `detail` of a problem answer, else the text.
    static func detail(_ body: [UInt8]) -> String {
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let detail = object["detail"] as? String {
            return detail
        }
        return String(decoding: body.prefix(500), as: UTF8.self)
    }
}
