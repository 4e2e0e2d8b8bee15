import CaaSCrypto
import CaaSHTTP
import CaaSModel
import CaaSStore
import Foundation
import Logging

/// The control plane's mTLS endpoint for agents (a CaaSHTTP server that requires a client
/// certificate from the control-plane CA's tree). Every call is authenticated by
/// `CertificateAgentAuthenticator`; the scheduler's `AgentEndpoints` does the work:
///
/// - `POST /v1/agent/heartbeats`, `POST /v1/agent/reports`, `GET /v1/agent/desired-state`
/// - `POST /v1/agent/renew`: a new certificate for a new key, before the current one expires
/// - `POST /v1/agent/nodes`: the agent's nodes by name (created when missing) and its endpoint
struct AgentListenerResponder: HTTPResponder {
    let service: AgentChannelService
    let router: Router

    init(service: AgentChannelService) {
        self.service = service
        var router = Router()
        router.post("/v1/agent/heartbeats") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            let endpoints = service.endpoints
            return try await Self.answer(service) { try await endpoints.receiveHeartbeat(body: body, credentials: Self.credentials(request)); return nil }
        }
        router.post("/v1/agent/reports") { request, _ in
            let body = try await request.body.collect(upTo: 16 << 20)
            return try await Self.answer(service) {
                let outcome = try await service.endpoints.receiveReport(body: body, credentials: Self.credentials(request))
                if let report = try? AgentWire.decoder().decode(AgentReport.self, from: Data(body)), !report.nodes.isEmpty {
                    try await service.store.systemTransaction { try $0.applyNodeCapacity(clusterID: report.clusterId, report.nodes) }
                }
                return Array(#"{"transitions":\#(outcome.transitions),"deleted":\#(outcome.deleted),"unknown":\#(outcome.unknown)}"#.utf8)
            }
        }
        router.get("/v1/agent/desired-state") { request, _ in
            try await Self.answer(service) { try await service.endpoints.desiredState(credentials: Self.credentials(request)) }
        }
        router.post("/v1/agent/renew") { request, _ in
            let body = try await request.body.collect(upTo: 64 << 10)
            return try await Self.answer(service) { try await service.renew(body: body, credentials: Self.credentials(request)) }
        }
        router.post("/v1/agent/nodes") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            return try await Self.answer(service) { try await service.registerNodes(body: body, credentials: Self.credentials(request)) }
        }
        self.router = router
    }

    func respond(to request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse {
        try await router.respond(to: request, context: context)
    }

    static func credentials(_ request: HTTPRequest) -> AgentCredentials {
        let certificate = request.connection.peerCertificate
        return AgentCredentials(certificateSubject: certificate?.subjectCommonName, certificate: certificate)
    }

    /// Runs `work` and turns its outcome into an answer: JSON bytes (200), nothing (204), or a problem.
    static func answer(_ service: AgentChannelService, _ work: () async throws -> [UInt8]?) async throws -> HTTPResponse {
        do {
            guard let body = try await work() else { return HTTPResponse(status: .noContent) }
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: HTTPResponseBody(bytes: body))
        } catch let error as AgentAPIError {
            if error == .unauthenticated { service.logger.notice("agent call refused: certificate not accepted") }
            return problem(error.status, error.description)
        } catch let error as CryptoError {
            return problem(400, error.description)
        } catch {
            // Store and database errors map as on the API: a pool or database that does not
            // answer is 503 with Retry-After (the agent tries again), never a 500.
            let mapped = ControlPlane.problem(for: error, requestID: "agent", logger: service.logger)
            return problem(mapped.status, mapped.detail, headers: mapped.headers)
        }
    }

    static func problem(_ status: Int, _ detail: String, headers: [(String, String)] = []) -> HTTPResponse {
        let body = JSONValue.object(["type": .string("about:blank"), "title": .string(HTTPStatus(code: status).reasonPhrase),
                                     "status": .integer(Int64(status)), "detail": .string(detail)])
        var fields: [String: String] = ["Content-Type": "application/problem+json"]
        for (name, value) in headers { fields[name] = value }
        return HTTPResponse(status: HTTPStatus(code: status), headers: HTTPHeaders(fields.map { ($0.key, $0.value) }),
                            body: HTTPResponseBody(string: body.serialized + "\n"))
    }
}
