import CaaSHTTP
import CaaSModel
import CaaSStore
import Foundation

/// The public API of the agent channel:
///
/// - `POST /v1/agent/join` — no API token: `Authorization: Bearer <join token>` of the cluster;
///   the body is a `CertificateRequestBody`; the answer an `IssuedCertificateBody` (201).
/// - `GET /v1/clusters/{cluster_id}/agent` — the cluster's agent: status, endpoint, certificate expiry.
/// - `DELETE /v1/clusters/{cluster_id}/agent` — revokes it: every mTLS call it makes is refused.
/// - `GET /v1/containers/{container_id}/logs?follow=&tail=` — the container's output, streamed
///   through its cluster's agent from the engine (`text/plain`, chunked).
///
/// With `service == nil` (route-table tests) every handler answers 503.
public enum AgentChannelRoutes {
    public static func all(_ service: AgentChannelService?) -> [APIRoute] {
        func needing(_ body: @escaping @Sendable (APIContext, AgentChannelService) async throws -> APIResponse)
            -> @Sendable (APIContext) async throws -> APIResponse {
            { context in
                guard let service else { throw APIError.unavailable("the agent channel is not running") }
                return try await body(context, service)
            }
        }
        return [
            APIRoute("POST", "/v1/agent/join", action: "agents.join", access: .anonymous, handler: needing(join)),
            APIRoute("GET", "/v1/clusters/{cluster_id}/agent", action: "clusters.agent.get", access: .tenant(.read),
                     ids: ["cluster_id": .cluster], handler: needing(agent)),
            APIRoute("GET", "/v1/clusters/{cluster_id}/agent/trust", action: "clusters.agent.trust", access: .tenant(.read),
                     ids: ["cluster_id": .cluster], handler: needing(trust)),
            APIRoute("DELETE", "/v1/clusters/{cluster_id}/agent", action: "clusters.agent.revoke", access: .tenant(.administer),
                     ids: ["cluster_id": .cluster], handler: needing(revoke)),
            APIRoute("GET", "/v1/containers/{container_id}/logs", action: "containers.logs", access: .tenant(.read),
                     query: ["follow", "tail"], ids: ["container_id": .container], handler: needing(logs)),
        ]
    }

    static func join(_ context: APIContext, _ service: AgentChannelService) async throws -> APIResponse {
        guard let header = context.request.header("authorization"), header.lowercased().hasPrefix("bearer "),
              case let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces), !token.isEmpty else {
            throw APIError.unauthorized("send the cluster's join token as Authorization: Bearer caas_join_…")
        }
        do {
            let issued = try await service.join(token: token, body: context.request.body, clientAddress: context.request.clientAddress)
            var response = APIResponse(status: 201, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                                       body: .bytes(Array(try AgentWire.encoder().encode(issued)) + [10]))
            response.auditTarget = issued.clusterId
            return response
        } catch let error as AgentAPIError {
            throw APIError.badRequest(error.description, pointer: "/csr")
        }
    }

    static func view(_ agent: AgentRecord) -> JSONValue {
        func date(_ value: Date?) -> JSONValue { value.map { .string(Timestamp.format($0)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(agent.id),
            "cluster_id": .string(agent.clusterID),
            "status": .string(agent.status),
            "connection": .string(agent.status == "active" ? agent.connection : "disconnected"),
            "hostname": .string(agent.hostname),
            "endpoint": text(agent.endpoint),
            "agent_version": text(agent.agentVersion),
            "certificate_serial": .string(agent.certificateSerial),
            "certificate_expires_at": date(agent.certificateExpiresAt),
            "joined_at": date(agent.joinedAt),
            "renewed_at": date(agent.renewedAt),
            "last_seen_at": date(agent.lastSeenAt),
            "revoked_at": date(agent.revokedAt),
            "revoked_reason": text(agent.revokedReason),
        ])
    }

    /// What an agent joining over plain HTTP compares: the control-plane CA's SHA-256 (its
    /// `--ca-fingerprint`), read here over the caller's own authenticated channel.
    static func trust(_ context: APIContext, _ service: AgentChannelService) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        try await context.inTenant { tx in
            guard try tx.cluster(id) != nil else { throw StoreError.notFound(kind: "cluster", id: id) }
        }
        return .json(.object([
            "control_plane_ca_sha256": .string(try service.certificates.root.certificate.sha256Fingerprint()),
            "agent_url": .string(service.agentURL),
        ]))
    }

    static func agent(_ context: APIContext, _ service: AgentChannelService) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        let agent = try await context.inTenant { tx -> AgentRecord? in
            guard try tx.cluster(id) != nil else { throw StoreError.notFound(kind: "cluster", id: id) }
            return try tx.agent(clusterID: id)
        }
        guard let agent else { throw APIError.notFound("agent of cluster", id) }
        return .json(view(agent))
    }

    static func revoke(_ context: APIContext, _ service: AgentChannelService) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        try context.emptyBody()
        let agent = try await context.inTenant { try $0.revokeAgent(clusterID: id, reason: "revoked through the API") }
        service.directory.forget(id)
        context.logger.notice("agent revoked", metadata: ["cluster.id": .string(id), "agent.id": .string(agent.id)])
        var response = APIResponse.json(view(agent))
        response.auditTarget = id
        return response
    }

    static func logs(_ context: APIContext, _ service: AgentChannelService) async throws -> APIResponse {
        let id = context.parameter("container_id")
        let follow = try context.queryChoice("follow", ["true", "false", "1", "0"]).map { $0 == "true" || $0 == "1" } ?? false
        var tail: Int?
        if let text = context.request.query["tail"], text != "all" {
            guard let value = Int(text), value >= 0, value <= 100_000 else {
                throw APIError.badRequest("tail must be a number of lines from 0 to 100000, or all", pointer: "tail")
            }
            tail = value
        }
        guard let placement = try await context.inTenant({ try $0.containerPlacement(id) }) else { throw APIError.notFound("container", id) }
        guard placement.nodeID != nil, !["pending", "assigned"].contains(placement.observedState) else {
            throw APIError.conflict("container \(id) has not been created on a node yet (\(placement.observedState))")
        }
        let reservation = try context.reserveStream()
        // A container lost with its node keeps its logs on that node: out of reach, that is a
        // state of the container's (409), not a passing fault of the control plane's (503).
        func unreachable(_ why: String) -> APIError {
            placement.observedState == "lost"
                ? .conflict("container \(id) is lost with its node and the agent of cluster \(placement.clusterID) \(why); its logs can be read once the node is back")
                : .unavailable("the agent of cluster \(placement.clusterID) \(why)")
        }
        guard let channel = await service.directory.mtlsChannel(for: placement.clusterID) else { throw unreachable("is not connected") }
        let upstream: HTTPClientStreamingResponse
        do {
            upstream = try await channel.logs(containerID: id, follow: follow, tail: tail)
        } catch {
            context.logger.warning("logs: agent unreachable", metadata: ["cluster.id": .string(placement.clusterID), "error": "\(error)"])
            throw unreachable("did not answer")
        }
        guard upstream.status == 200 else {
            if upstream.status == 404 { throw APIError.notFound("container on its engine", id) }
            throw APIError.unavailable("the agent answered \(upstream.status) for the logs of \(id)")
        }
        let body = upstream.body
        let copy: @Sendable (any ResponseStreamWriter) async throws -> Void = { writer in
            for try await chunk in body { try await writer.write(chunk) }
        }
        return APIResponse(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                           body: reservation.map { $0.stream(copy) } ?? .stream(copy))
    }
}
