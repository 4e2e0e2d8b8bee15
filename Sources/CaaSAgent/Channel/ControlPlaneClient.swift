import CaaSCrypto
import CaaSHTTP
import CaaSModel
import Foundation
import Synchronization

/// The agent's calls to the control plane over mTLS (its certificate from the state directory,
/// the control-plane CA as the only trust): heartbeats, status reports, the desired state for a
/// resync, node registration and certificate renewal.
///
/// It notices when the control plane comes back after failures (`reconnections` yields then) so
/// the runtime can resync. After a renewal `reload()` picks up the new certificate.
public final class ControlPlaneClient: AgentReporter, HeartbeatSink, Sendable {
    public let directory: AgentStateDirectory
    private let client: Mutex<HTTPClient>
    private let baseURL: Mutex<String>
    private let failing = Mutex(false)
    public let reconnections: AsyncStream<Void>
    private let reconnected: AsyncStream<Void>.Continuation
    let requestTimeout: Duration

    public init(directory: AgentStateDirectory, requestTimeout: Duration = .seconds(10)) throws {
        self.directory = directory
        self.requestTimeout = requestTimeout
        let state = try directory.loadState()
        baseURL = Mutex(state.agentApiUrl)
        client = Mutex(try Self.makeClient(directory))
        (reconnections, reconnected) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    static func makeClient(_ directory: AgentStateDirectory) throws -> HTTPClient {
        let tls = TLSConfiguration(certificateChainFile: directory.certificatePath, privateKeyFile: directory.keyPath,
                                   trustedCAFile: directory.trustAnchorPath, verifyPeer: true)
        return try HTTPClient(configuration: HTTPClientConfiguration(tls: tls, connectTimeout: .seconds(2), maxIdleConnectionsPerEndpoint: 4,
                                                                     userAgent: "caas-agent"))
    }

    /// Picks up a renewed certificate (new connections use it; the old client closes its idle ones).
    public func reload() throws {
        let fresh = try Self.makeClient(directory)
        let state = try directory.loadState()
        let old = client.withLock { current in
            let old = current
            current = fresh
            return old
        }
        baseURL.withLock { $0 = state.agentApiUrl }
        old.shutdown()
    }

    public func shutdown() {
        client.withLock { $0 }.shutdown()
        reconnected.finish()
    }

    /// Whether the last call failed to reach the control plane.
    public var isFailing: Bool { failing.withLock { $0 } }

    // MARK: Calls

    public func beat(_ heartbeat: Heartbeat) async throws {
        _ = try await call(.post, "/v1/agent/heartbeats", body: heartbeat)
    }

    public func deliver(_ report: AgentReport) async throws {
        _ = try await call(.post, "/v1/agent/reports", body: report)
    }

    /// The full desired state (`GET /v1/agent/desired-state`).
    public func desiredState() async throws -> DesiredClusterState {
        let body = try await call(.get, "/v1/agent/desired-state", body: Optional<Int>.none)
        return try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(body))
    }

    public func registerNodes(_ registration: NodeRegistrationBody) async throws -> [NodeRegistrationBody.Node] {
        let body = try await call(.post, "/v1/agent/nodes", body: registration)
        return try AgentWire.decoder().decode(NodeRegistrationBody.self, from: Data(body)).nodes
    }

    /// `POST /v1/agent/renew` with a request for `key`; answers the new certificate (not yet saved).
    public func renew(key: PrivateKey, hostname: String, endpoint: String?, agentVersion: String) async throws -> IssuedCertificateBody {
        let csr = try CertificateSigningRequest(key: key, commonName: "caas-agent \(hostname)")
        let body = try await call(.post, "/v1/agent/renew",
                                  body: CertificateRequestBody(csr: try csr.pem(), hostname: hostname, endpoint: endpoint, agentVersion: agentVersion))
        let issued = try AgentWire.decoder().decode(IssuedCertificateBody.self, from: Data(body))
        try AgentJoiner.check(issued, key: key)
        return issued
    }

    /// One mTLS call; a non-2xx answer throws `AgentJoinError.refused`, a transport failure
    /// `.unreachable`. The control plane must present a `caas://control-plane` certificate.
    func call<Body: Encodable>(_ method: HTTPMethod, _ path: String, body: Body?) async throws -> [UInt8] {
        let client = self.client.withLock { $0 }
        let url = baseURL.withLock { $0 } + path
        var request = try HTTPClientRequest(method: method, url: url)
        if let body {
            request.headers = ["Content-Type": "application/json"]
            request.body = .bytes(Array(try AgentWire.encoder().encode(body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: requestTimeout)
        } catch {
            failing.withLock { $0 = true }
            throw AgentJoinError.unreachable("\(url): \(error)")
        }
        guard let peer = response.peerCertificate, CaaSIdentity(certificateURIs: peer.uris) == .controlPlane else {
            failing.withLock { $0 = true }
            throw AgentJoinError.badAnswer("\(url) did not present the control plane's certificate")
        }
        let wasFailing = failing.withLock { state in
            let was = state
            state = false
            return was
        }
        if wasFailing { reconnected.yield() }
        guard (200..<300).contains(response.status) else {
            throw AgentJoinError.refused(status: response.status, detail: AgentJoiner.detail(response.body))
        }
        return response.body
    }
}
