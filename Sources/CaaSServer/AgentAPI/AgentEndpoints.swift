import CaaSHTTP
import CaaSModel
import CaaSStore
import Foundation
import Logging

/// Who is calling the agent endpoints. The real check (the client certificate of an mTLS
/// connection, issued by the cluster's CA) comes with agent joining; it answers the one cluster
/// the caller may speak for.
public protocol AgentAuthenticator: Sendable {
    /// The cluster the caller speaks for; throws `AgentAPIError.unauthenticated` otherwise.
    func clusterID(for credentials: AgentCredentials) async throws -> String
}

/// What the transport knows of the caller: the peer certificate's subject, or a bearer secret.
public struct AgentCredentials: Sendable, Equatable {
    public var certificateSubject: String?
    public var bearer: String?
    /// The verified client certificate of an mTLS connection (serial, names, validity).
    public var certificate: PeerCertificate?

    public init(certificateSubject: String? = nil, bearer: String? = nil, certificate: PeerCertificate? = nil) {
        self.certificateSubject = certificateSubject
        self.bearer = bearer
        self.certificate = certificate
    }
}

public enum AgentAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    case unauthenticated
    /// The body names another cluster than the caller's.
    case wrongCluster(claimed: String, authenticated: String)
    /// The agent's tenant is suspended: it may not report, heartbeat or fetch state.
    case tenantSuspended
    case badBody(String)
    case notFound(String)

    public var status: Int {
        switch self {
        case .unauthenticated: 401
        case .wrongCluster, .tenantSuspended: 403
        case .badBody: 400
        case .notFound: 404
        }
    }

    public var description: String {
        switch self {
        case .unauthenticated: "the agent could not be authenticated"
        case .wrongCluster(let claimed, let authenticated): "an agent of cluster \(authenticated) cannot speak for cluster \(claimed)"
        case .tenantSuspended: "the tenant of this agent is suspended"
        case .badBody(let detail): "bad body: \(detail)"
        case .notFound(let what): "no \(what)"
        }
    }
}

/// The control plane's side of the agent channel: status reports, heartbeats, and the desired
/// state for a resync. Bodies are `AgentWire` JSON. Routes (served on the mTLS listener):
/// `POST /v1/agent/reports`, `POST /v1/agent/heartbeats`, `GET /v1/agent/desired-state`.
public struct AgentEndpoints: Sendable {
    public let store: Store
    public let authenticator: any AgentAuthenticator
    public let signal: any JobSignal
    /// Opens sealed environment values in the desired state an agent fetches.
    let secretsKey: [UInt8]
    public let logger: Logger

    public init(store: Store, authenticator: any AgentAuthenticator, signal: any JobSignal, secretsKey: [UInt8], logger: Logger) {
        self.store = store
        self.authenticator = authenticator
        self.signal = signal
        self.secretsKey = secretsKey
        self.logger = logger
    }

    /// `POST /v1/agent/reports`: applies the report; answers what it changed.
    @discardableResult
    public func receiveReport(body: [UInt8], credentials: AgentCredentials) async throws -> ReportOutcome {
        let clusterID = try await authenticator.clusterID(for: credentials)
        let report: AgentReport
        do {
            report = try AgentWire.decoder().decode(AgentReport.self, from: Data(body))
        } catch {
            throw AgentAPIError.badBody("\(error)")
        }
        guard report.clusterId == clusterID else { throw AgentAPIError.wrongCluster(claimed: report.clusterId, authenticated: clusterID) }
        if let problem = report.outOfRange() { throw AgentAPIError.badBody(problem) }
        let outcome = try await store.systemTransaction { try $0.applyReport(report, clusterID: clusterID) }
        if !outcome.reconciled.isEmpty { signal.signal() }
        if outcome.unknown > 0 {
            logger.debug("report named containers this cluster does not have", metadata: ["cluster.id": .string(clusterID), "count": "\(outcome.unknown)"])
        }
        return outcome
    }

    /// `POST /v1/agent/heartbeats`: nodes alive; returns the nodes that came back.
    @discardableResult
    public func receiveHeartbeat(body: [UInt8], credentials: AgentCredentials) async throws -> [NodeChange] {
        let clusterID = try await authenticator.clusterID(for: credentials)
        let heartbeat: Heartbeat
        do {
            heartbeat = try AgentWire.decoder().decode(Heartbeat.self, from: Data(body))
        } catch {
            throw AgentAPIError.badBody("\(error)")
        }
        guard heartbeat.clusterId == clusterID else {
            throw AgentAPIError.wrongCluster(claimed: heartbeat.clusterId, authenticated: clusterID)
        }
        if let problem = heartbeat.outOfRange() { throw AgentAPIError.badBody(problem) }
        let changes = try await store.systemTransaction { try $0.applyHeartbeat(heartbeat, clusterID: clusterID) }
        if !changes.isEmpty {
            signal.signal()
            logger.info("nodes are back", metadata: ["cluster.id": .string(clusterID), "nodes": "\(changes.map(\.name))"])
        }
        return changes
    }

    /// `GET /v1/agent/desired-state`: the full desired state (an agent's resync at start), sealed
    /// environment values opened as for a push.
    public func desiredState(credentials: AgentCredentials) async throws -> [UInt8] {
        let clusterID = try await authenticator.clusterID(for: credentials)
        guard let push = try await store.systemTransaction({ try $0.desiredState(clusterID: clusterID) }) else {
            throw AgentAPIError.notFound("cluster \(clusterID)")
        }
        return Array(try AgentWire.encoder().encode(try ApplicationSecrets.opened(push.state, key: secretsKey)))
    }
}

extension AgentEndpoints {
    /// The agent routes as one dispatcher for whichever listener serves them (the mTLS one):
    /// `POST /v1/agent/reports`, `POST /v1/agent/heartbeats`, `GET /v1/agent/desired-state`.
    /// Answers a status and a JSON body (`{"error": …}` on failure).
    public func respond(method: String, path: String, body: [UInt8], credentials: AgentCredentials) async -> (status: Int, body: [UInt8]) {
        func json(_ object: [String: Any]) -> [UInt8] {
            Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
        }
        do {
            switch (method.uppercased(), path) {
            case ("POST", "/v1/agent/reports"):
                let outcome = try await receiveReport(body: body, credentials: credentials)
                return (200, json(["transitions": outcome.transitions, "deleted": outcome.deleted, "unknown": outcome.unknown]))
            case ("POST", "/v1/agent/heartbeats"):
                let back = try await receiveHeartbeat(body: body, credentials: credentials)
                return (200, json(["nodes_back": back.map(\.nodeID)]))
            case ("GET", "/v1/agent/desired-state"):
                return (200, try await desiredState(credentials: credentials))
            case (_, "/v1/agent/reports"), (_, "/v1/agent/heartbeats"), (_, "/v1/agent/desired-state"):
                return (405, json(["error": "method not allowed"]))
            default:
                return (404, json(["error": "no route \(path)"]))
            }
        } catch let error as AgentAPIError {
            return (error.status, json(["error": error.description]))
        } catch {
            logger.error("agent request failed", metadata: ["path": .string(path), "error": "\(error)"])
            return (500, json(["error": "internal error"]))
        }
    }
}
