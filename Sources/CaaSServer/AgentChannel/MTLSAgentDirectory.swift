import CaaSCrypto
import CaaSHTTP
import CaaSModel
import CaaSStore
import Foundation
import Synchronization

/// The scheduler's way to agents in production: each cluster's active agent at the endpoint it
/// reported, over HTTPS with the control plane's client certificate (`caas://control-plane`).
public final class MTLSAgentDirectory: ClusterAgentDirectory, Sendable {
    let store: Store
    let client: HTTPClient
    let pushTimeout: Duration
    /// Endpoints looked up recently (a push per change must not cost a query each time).
    private let targets = Mutex<[String: (target: AgentPushTarget, at: ContinuousClock.Instant)]>([:])
    static let endpointCacheTime: Duration = .seconds(2)
    /// Per cluster: the last pushed state's encoded containers, reused while unchanged.
    private let encoders = Mutex<[String: DesiredStateEncoder]>([:])

    public init(store: Store, files: AgentCertificates.IdentityFiles, pushTimeout: Duration) throws {
        self.store = store
        self.pushTimeout = pushTimeout
        let tls = TLSConfiguration(certificateChainFile: files.clientCertificate, privateKeyFile: files.clientKey,
                                   trustedCAFile: files.trustAnchor, verifyPeer: true)
        client = try HTTPClient(configuration: HTTPClientConfiguration(tls: tls, connectTimeout: .seconds(3), userAgent: "caas-control-plane"))
    }

    public func channel(for clusterID: String) async -> (any ClusterAgentChannel)? {
        await mtlsChannel(for: clusterID)
    }

    /// The channel with its log proxy; nil while the cluster has no agent with an endpoint.
    public func mtlsChannel(for clusterID: String) async -> MTLSAgentChannel? {
        let now = ContinuousClock.now
        if let cached = targets.withLock({ $0[clusterID] }), now - cached.at < Self.endpointCacheTime {
            return MTLSAgentChannel(client: client, clusterID: clusterID, target: cached.target, pushTimeout: pushTimeout,
                                    encoder: encoder(for: clusterID))
        }
        guard let target = try? await store.systemTransaction({ try $0.agentPushTarget(clusterID: clusterID) }) else {
            targets.withLock { _ = $0.removeValue(forKey: clusterID) }
            return nil
        }
        targets.withLock { $0[clusterID] = (target, now) }
        return MTLSAgentChannel(client: client, clusterID: clusterID, target: target, pushTimeout: pushTimeout,
                                encoder: encoder(for: clusterID))
    }

    func encoder(for clusterID: String) -> DesiredStateEncoder {
        encoders.withLock { encoders in
            if let encoder = encoders[clusterID] { return encoder }
            let encoder = DesiredStateEncoder()
            encoders[clusterID] = encoder
            return encoder
        }
    }

    /// Drops a cached endpoint (the agent moved, or was revoked) and the cluster's encoded state.
    public func forget(_ clusterID: String) {
        targets.withLock { _ = $0.removeValue(forKey: clusterID) }
        encoders.withLock { _ = $0.removeValue(forKey: clusterID) }
    }

    func shutdown() { client.shutdown() }
}

/// Errors of talking to an agent.
public struct AgentChannelError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// One cluster's agent over mTLS. The TLS layer checks the agent's chain (to the control-plane CA)
/// and its name (the endpoint's host is in its certificate); before a byte of a request is
/// written, `peerCheck` makes sure the peer is *this* cluster's active agent, by identity URI and
/// by the serial of a certificate in force: an old, revoked or other cluster's certificate at the
/// endpoint never receives a tenant's state.
public struct MTLSAgentChannel: ClusterAgentChannel {
    let client: HTTPClient
    public let clusterID: String
    let target: AgentPushTarget
    let pushTimeout: Duration
    let encoder: DesiredStateEncoder

    public var endpoint: String { target.endpoint }

    init(client: HTTPClient, clusterID: String, target: AgentPushTarget, pushTimeout: Duration, encoder: DesiredStateEncoder) {
        self.client = client
        self.clusterID = clusterID
        self.target = target
        self.pushTimeout = pushTimeout
        self.encoder = encoder
    }

    /// `PUT /agent/v1/desired-state`.
    public func push(_ state: DesiredClusterState) async throws -> PushAcknowledgement {
        let body = try encoder.encode(state)
        var request = try HTTPClientRequest(method: .put, url: endpoint + "/agent/v1/desired-state",
                                            headers: ["Content-Type": "application/json"], body: .bytes(body))
        request.peerCheck = peerCheck
        let response = try await client.execute(request, timeout: pushTimeout)
        guard response.status == 200 else {
            throw AgentChannelError(description: "agent of cluster \(clusterID) answered \(response.status): \(response.bodyText.prefix(300))")
        }
        let ack = try AgentWire.decoder().decode(PushAcknowledgementBody.self, from: Data(response.body))
        return PushAcknowledgement(applied: ack.applied, appliedGeneration: ack.appliedGeneration, detail: ack.detail)
    }

    /// `GET /agent/v1/containers/{id}/logs`: the head once the agent answered; the body streams.
    public func logs(containerID: String, follow: Bool, tail: Int?) async throws -> HTTPClientStreamingResponse {
        var target = "/agent/v1/containers/\(containerID)/logs?follow=\(follow)"
        if let tail { target += "&tail=\(tail)" }
        var request = try HTTPClientRequest(method: .get, url: endpoint + target)
        request.peerCheck = peerCheck
        return try await client.stream(request, timeout: .seconds(10))
    }

    var peerCheck: @Sendable (PeerCertificate?) -> String? {
        let (clusterID, target) = (clusterID, target)
        return { certificate in Self.refusal(of: certificate, clusterID: clusterID, target: target) }
    }

    /// Why `certificate` is not the cluster's active agent; nil when it is. Pure.
    static func refusal(of certificate: PeerCertificate?, clusterID: String, target: AgentPushTarget) -> String? {
        guard let certificate else { return "\(target.endpoint) presented no certificate" }
        guard case .agent(let cluster, let agent)? = CaaSIdentity(certificateURIs: certificate.uris), cluster == clusterID else {
            return "\(target.endpoint) is not an agent of cluster \(clusterID)"
        }
        guard agent == target.agentID else { return "\(target.endpoint) is agent \(agent), not the cluster's active agent \(target.agentID)" }
        guard target.serials.contains(certificate.serialNumber) else {
            return "\(target.endpoint) presented certificate \(certificate.serialNumber), which is not in force (revoked, replaced or expired)"
        }
        return nil
    }
}
