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
    private let endpoints = Mutex<[String: (endpoint: String, at: ContinuousClock.Instant)]>([:])
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
        if let cached = endpoints.withLock({ $0[clusterID] }), now - cached.at < Self.endpointCacheTime {
            return MTLSAgentChannel(client: client, clusterID: clusterID, endpoint: cached.endpoint, pushTimeout: pushTimeout,
                                    encoder: encoder(for: clusterID))
        }
        guard let endpoint = try? await store.systemTransaction({ try $0.activeAgentEndpoint(clusterID: clusterID) }) else {
            endpoints.withLock { _ = $0.removeValue(forKey: clusterID) }
            return nil
        }
        endpoints.withLock { $0[clusterID] = (endpoint, now) }
        return MTLSAgentChannel(client: client, clusterID: clusterID, endpoint: endpoint, pushTimeout: pushTimeout,
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
        endpoints.withLock { _ = $0.removeValue(forKey: clusterID) }
        encoders.withLock { _ = $0.removeValue(forKey: clusterID) }
    }

    func shutdown() { client.shutdown() }
}

/// Errors of talking to an agent.
public struct AgentChannelError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// One cluster's agent over mTLS. The TLS layer checks the agent's chain (to the control-plane CA)
/// and its name (the endpoint's host is in its certificate); this checks it is an agent of
/// *this* cluster before trusting its answer.
public struct MTLSAgentChannel: ClusterAgentChannel {
    let client: HTTPClient
    public let clusterID: String
    public let endpoint: String
    let pushTimeout: Duration
    let encoder: DesiredStateEncoder

    /// `PUT /agent/v1/desired-state`.
    public func push(_ state: DesiredClusterState) async throws -> PushAcknowledgement {
        let body = try encoder.encode(state)
        let request = try HTTPClientRequest(method: .put, url: endpoint + "/agent/v1/desired-state",
                                            headers: ["Content-Type": "application/json"], body: .bytes(body))
        let response = try await client.execute(request, timeout: pushTimeout)
        try checkPeer(response.peerCertificate)
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
        let request = try HTTPClientRequest(method: .get, url: endpoint + target)
        let response = try await client.stream(request, timeout: .seconds(10))
        try checkPeer(response.peerCertificate)
        return response
    }

    func checkPeer(_ certificate: PeerCertificate?) throws {
        guard let certificate, case .agent(let cluster, _)? = CaaSIdentity(certificateURIs: certificate.uris), cluster == clusterID else {
            throw AgentChannelError(description: "the endpoint \(endpoint) is not an agent of cluster \(clusterID)")
        }
    }
}
