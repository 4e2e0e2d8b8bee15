import CaaSCrypto
import CaaSHTTP
import CaaSModel
import Foundation
import Logging
import Synchronization

/// The agent's mTLS endpoint, where the control plane pushes (CaaSHTTP server that requires a
/// client certificate chaining to the control-plane CA, and then checks it names
/// `caas://control-plane`):
///
/// - `PUT /agent/v1/desired-state`: a `DesiredClusterState` → `ClusterAgent.apply`; answers a
///   `PushAcknowledgementBody` once every node converged (or why the state was ignored);
/// - `GET /agent/v1/containers/{id}/logs?follow=&tail=`: the container's output from its engine,
///   streamed (`text/plain`).
///
/// Its server certificate is the agent's own; after a renewal `restart()` serves the new one.
public final class AgentChannelServer: Sendable {
    public let directory: AgentStateDirectory
    public let host: String
    public let requestedPort: Int
    let responder: AgentChannelResponder
    let logger: Logger
    private let server = Mutex<HTTPServer?>(nil)

    public init(directory: AgentStateDirectory, host: String, port: Int, agent: ClusterAgent, logger: Logger) {
        self.directory = directory
        self.host = host
        self.requestedPort = port
        self.logger = logger
        responder = AgentChannelResponder(agent: agent, logger: logger)
    }

    /// The bound port (after `start`).
    public var port: Int? { server.withLock { $0 }?.port }

    public func start() throws {
        let tls = TLSConfiguration(certificateChainFile: directory.certificatePath, privateKeyFile: directory.keyPath,
                                   trustedCAFile: directory.trustAnchorPath, requireClientCertificate: true)
        // After a restart, keep the port that was bound first (the control plane knows it).
        let port = self.port ?? requestedPort
        let configuration = HTTPServerConfiguration(addresses: [.tcp(host: host, port: port)], eventLoopCount: 1,
                                                    handlerExecution: .globalExecutor, tls: tls)
        let fresh = try HTTPServer(configuration: configuration, responder: responder, logger: logger)
        try fresh.start()
        server.withLock { $0 = fresh }
    }

    /// Serves a renewed certificate: the old listener stops (requests in flight get a moment) and a
    /// new one binds the same port.
    public func restart() async throws {
        let old = server.withLock { $0 }
        let port = old?.port ?? requestedPort
        await old?.shutdown(gracePeriod: .seconds(2))
        let tls = TLSConfiguration(certificateChainFile: directory.certificatePath, privateKeyFile: directory.keyPath,
                                   trustedCAFile: directory.trustAnchorPath, requireClientCertificate: true)
        let configuration = HTTPServerConfiguration(addresses: [.tcp(host: host, port: port)], eventLoopCount: 1,
                                                    handlerExecution: .globalExecutor, tls: tls)
        let fresh = try HTTPServer(configuration: configuration, responder: responder, logger: logger)
        var attempt = 0
        while true {
            do {
                try fresh.start()
                break
            } catch {
                attempt += 1
                if attempt > 20 { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        server.withLock { $0 = fresh }
    }

    public func shutdown() async {
        await server.withLock { $0 }?.shutdown(gracePeriod: .seconds(2))
    }
}

struct AgentChannelResponder: HTTPResponder {
    let agent: ClusterAgent
    let logger: Logger
    let router: Router

    init(agent: ClusterAgent, logger: Logger) {
        self.agent = agent
        self.logger = logger
        var router = Router()
        router.put("/agent/v1/desired-state") { request, _ in
            let body = try await request.body.collect(upTo: 64 << 20)
            let state: DesiredClusterState
            do {
                state = try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(body))
            } catch {
                return .text("not a desired state: \(error)\n", status: .badRequest)
            }
            let outcome = await agent.apply(state)
            let ack: PushAcknowledgementBody
            switch outcome {
            case .applied(let generation, _, let unknown):
                ack = PushAcknowledgementBody(applied: true, appliedGeneration: generation,
                                              detail: unknown.isEmpty ? nil : "nodes this agent does not drive: \(unknown.joined(separator: ", "))")
            case .ignored(let reason):
                guard state.clusterId == agent.configuration.clusterId else { return .text(reason + "\n", status: .conflict) }
                ack = PushAcknowledgementBody(applied: false, appliedGeneration: await agent.appliedGeneration, detail: reason)
            }
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"],
                                body: HTTPResponseBody(bytes: Array(try AgentWire.encoder().encode(ack))))
        }
        router.get("/agent/v1/containers/{id}/logs") { request, context in
            let containerId = try context.parameters.require("id")
            let query = QueryParameters(request.query)
            let follow = ["true", "1"].contains(query["follow"] ?? "false")
            let tail = query["tail"].flatMap(Int.init)
            guard let (executor, engineId) = await Self.locate(containerId, in: agent) else {
                return .text("container \(containerId) is not on any node of this agent\n", status: .notFound)
            }
            let frames = try await executor.engine.logs(engineId, follow: follow, tail: tail)
            return .stream(headers: ["Content-Type": "text/plain; charset=utf-8"]) { writer in
                for try await frame in frames { try await writer.write(frame.bytes) }
            }
        }
        self.router = router
    }

    /// The executor that runs a container, and the container's engine id.
    static func locate(_ containerId: String, in agent: ClusterAgent) async -> (NodeExecutor, String)? {
        let nodes = await agent.nodeObservations().map(\.nodeId)
        for node in nodes {
            guard let executor = await agent.executor(for: node) else { continue }
            if let engineId = await executor.adoptedContainers[containerId] { return (executor, engineId) }
        }
        return nil
    }

    func respond(to request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse {
        guard let peer = request.connection.peerCertificate, CaaSIdentity(certificateURIs: peer.uris) == .controlPlane else {
            logger.notice("refused a caller without the control plane's certificate", metadata: ["remote": .string(request.connection.remoteAddress)])
            return .text("only the control plane may call this agent\n", status: .forbidden)
        }
        return try await router.respond(to: request, context: context)
    }
}
