import CaaSCrypto
import CaaSHTTP
import CaaSModel
import Foundation
import Logging

/// How `caas-agent run` runs.
public struct AgentRuntimeOptions: Sendable {
    /// A node from the command line or the configuration file: its name in the cluster and its engine.
    public struct Node: Sendable, Equatable {
        public var name: String
        public var endpoint: String
        public init(name: String, endpoint: String) {
            self.name = name
            self.endpoint = endpoint
        }
    }

    public var stateDirectory: AgentStateDirectory
    /// Where the mTLS endpoint listens (port 0: a free one, picked at start).
    public var listenHost = "127.0.0.1"
    public var listenPort = 7443
    /// What the control plane is told (default `https://<listen host>:<port>`).
    public var advertisedEndpoint: String?
    public var nodes: [Node] = []
    public var hostname = ProcessInfo.processInfo.hostName
    public var agentVersion = "0.1.0"
    public var heartbeatInterval: Duration = .seconds(1)
    public var reconcileInterval: Duration = .seconds(10)
    public var statsInterval: Duration = .seconds(10)
    public var reportWindow: Duration = .milliseconds(50)
    /// Silence from the control plane after which dead containers are restarted on the node by
    /// their restart policy (`AgentConfiguration.outOfReachAfter`).
    public var outOfReachAfter: Duration = .seconds(5)
    /// Engine operations in flight per node (create, start, stop, remove).
    public var maxOperationsPerNode = 8
    /// Renew at this fraction of the certificate's life.
    public var renewalFraction = 2.0 / 3.0
    /// First and longest wait between attempts to reach the control plane.
    public var backoff: (first: Duration, longest: Duration) = (.milliseconds(200), .seconds(5))
    public var portRange = 20_000..<30_000
    /// `AgentConfiguration.nameServerBinary` and `.nameServerUpstreams`.
    public var nameServerBinary: String?
    public var nameServerUpstreams: [String]?

    public init(stateDirectory: AgentStateDirectory) {
        self.stateDirectory = stateDirectory
    }
}

/// A running agent: its identity from the state directory, its nodes, the `ClusterAgent`, its mTLS
/// endpoint, and the loops that keep it in touch with the control plane (resync at start and
/// whenever the control plane comes back, certificate renewal). Containers keep running when it
/// stops; a new runtime adopts them, and the ports they hold.
public final class AgentRuntime: Sendable {
    public let options: AgentRuntimeOptions
    public let state: AgentStateDirectory.State
    public let client: ControlPlaneClient
    public let agent: ClusterAgent
    public let server: AgentChannelServer
    public let ports: PortAssignment
    public let endpoint: String
    public let nodes: [AgentNode]
    let logger: Logger

    private init(options: AgentRuntimeOptions, state: AgentStateDirectory.State, client: ControlPlaneClient, agent: ClusterAgent,
                 server: AgentChannelServer, ports: PortAssignment, endpoint: String, nodes: [AgentNode], logger: Logger) {
        self.options = options
        self.state = state
        self.client = client
        self.agent = agent
        self.server = server
        self.ports = ports
        self.endpoint = endpoint
        self.nodes = nodes
        self.logger = logger
    }

    /// Loads the identity, renews the certificate when due, registers the nodes (or uses the last
    /// registration while the control plane is away), and starts serving. `run()` does the rest.
    public static func start(options: AgentRuntimeOptions, makeTransport: @escaping EngineTransportFactory,
                             logger: Logger = Logger(label: "caas.agent")) async throws -> AgentRuntime {
        var options = options
        let directory = options.stateDirectory
        try directory.prepare()
        var state = try directory.loadState()
        if options.listenPort == 0 { options.listenPort = try FreePort.pick(host: options.listenHost) }
        let host = options.listenHost == "0.0.0.0" ? "127.0.0.1" : options.listenHost
        let endpoint = options.advertisedEndpoint ?? "https://\(host.contains(":") ? "[\(host)]" : host):\(options.listenPort)"
        let client = try ControlPlaneClient(directory: directory)
        let logger = logger.with("cluster.id", state.clusterId).with("agent.id", state.agentId)

        if CertificateRenewal.isDue(try directory.certificate(), endpointHost: Self.host(of: endpoint), fraction: options.renewalFraction) {
            do {
                try await renew(client: client, options: options, endpoint: endpoint, logger: logger)
                state = try directory.loadState()
            } catch {
                logger.warning("certificate renewal failed; will retry", metadata: ["error": "\(error)"])
            }
        }

        let registered = try await registerNodes(client: client, options: options, endpoint: endpoint, logger: logger)
        let nodes = registered.compactMap { node -> AgentNode? in
            let text = options.nodes.first { $0.name == node.name }?.endpoint ?? node.engineEndpoint
            guard let id = node.id, let parsed = EngineEndpoint(text) else {
                logger.warning("node skipped: engine endpoint not usable", metadata: ["node": .string(node.name), "endpoint": .string(text)])
                return nil
            }
            return AgentNode(nodeId: id, endpoint: parsed)
        }
        var configuration = AgentConfiguration(clusterId: state.clusterId, agentVersion: options.agentVersion,
                                               maxOperationsPerNode: options.maxOperationsPerNode, reconcileInterval: options.reconcileInterval, statsInterval: options.statsInterval,
                                               heartbeatInterval: options.heartbeatInterval, reportWindow: options.reportWindow)
        configuration.outOfReachAfter = options.outOfReachAfter
        configuration.nameServerBinary = options.nameServerBinary
        configuration.nameServerUpstreams = options.nameServerUpstreams
        let ports = PortAssignment(range: options.portRange)
        let agent = ClusterAgent(configuration: configuration, nodes: nodes, makeTransport: makeTransport, reporter: client, heartbeats: client,
                                 ports: ports)
        let server = AgentChannelServer(directory: directory, host: options.listenHost, port: options.listenPort, agent: agent,
                                        logger: logger.with("listener", "push"))
        try server.start()
        logger.info("agent serving", metadata: ["endpoint": .string(endpoint), "control_plane": .string(state.agentApiUrl),
                                                "nodes": "\(registered.map(\.name))"])
        return AgentRuntime(options: options, state: state, client: client, agent: agent, server: server, ports: ports,
                            endpoint: endpoint, nodes: nodes, logger: logger)
    }

    /// Runs until cancelled: the agent's own loops (events, reconciliation, heartbeats), a resync
    /// now and whenever the control plane returns, and the renewal of the certificate.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.agent.run() }
            group.addTask { await self.resyncLoop() }
            group.addTask { await self.renewalLoop() }
            group.addTask { await self.nameServerWatch() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Logs each node's name server problem when it appears, changes or clears (names do not
    /// resolve on that node meanwhile).
    private func nameServerWatch() async {
        var known: [String: String] = [:]
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            let now = await agent.nameServerProblems
            for (node, problem) in now where known[node] != problem {
                logger.warning("names do not resolve on this node", metadata: ["node.id": .string(node), "error": .string(problem)])
            }
            for node in known.keys where now[node] == nil {
                logger.notice("the node's name server serves again", metadata: ["node.id": .string(node)])
            }
            known = now
        }
    }

    /// Stops serving (after `run` returned or was cancelled). Containers keep running.
    public func shutdown() async {
        await server.shutdown()
        client.shutdown()
    }

    /// `GET /v1/agent/desired-state` → apply, retried with backoff until it works.
    public func resync() async {
        var wait = options.backoff.first
        while !Task.isCancelled {
            do {
                let state = try await client.desiredState()
                let outcome = await agent.apply(state)
                logger.info("resynced with the control plane", metadata: ["generation": "\(state.generation)", "outcome": "\(Self.summary(outcome))"])
                return
            } catch {
                logger.notice("resync failed; retrying", metadata: ["error": "\(error)", "wait": "\(wait)"])
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, options.backoff.longest)
            }
        }
    }

    private func resyncLoop() async {
        await resync()
        for await _ in client.reconnections {
            if Task.isCancelled { break }
            logger.info("the control plane is back: resyncing")
            await resync()
        }
    }

    private func renewalLoop() async {
        var wait = options.backoff.first
        while !Task.isCancelled {
            guard let certificate = try? options.stateDirectory.certificate() else { return }
            let due = CertificateRenewal.renewalTime(notBefore: certificate.notBefore, notAfter: certificate.notAfter,
                                                     fraction: options.renewalFraction)
            let delay = due.timeIntervalSinceNow
            if delay > 0 {
                try? await Task.sleep(for: .milliseconds(Int64(min(delay, 3_600) * 1000)))
                continue
            }
            do {
                try await Self.renew(client: client, options: options, endpoint: endpoint, logger: logger)
                try await server.restart()
                wait = options.backoff.first
            } catch {
                logger.warning("certificate renewal failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, options.backoff.longest)
            }
        }
    }

    static func renew(client: ControlPlaneClient, options: AgentRuntimeOptions, endpoint: String, logger: Logger) async throws {
        let key = try PrivateKey.generateP256()
        let issued = try await client.renew(key: key, hostname: options.hostname, endpoint: endpoint, agentVersion: options.agentVersion)
        try options.stateDirectory.save(issued: issued, key: key, serverURL: "", endpoint: endpoint, renewal: true)
        try client.reload()
        logger.info("certificate renewed", metadata: ["serial": .string(issued.certificateSerial),
                                                      "expires": .string(RFC3339.format(issued.certificateExpiresAt))])
    }

    /// The nodes by name with their ids: registered with the control plane (retried with
    /// backoff), or — while it is away — the last registration's, when there is one.
    static func registerNodes(client: ControlPlaneClient, options: AgentRuntimeOptions, endpoint: String,
                              logger: Logger) async throws -> [NodeRegistrationBody.Node] {
        let registration = NodeRegistrationBody(nodes: options.nodes.map { .init(name: $0.name, engineEndpoint: $0.endpoint) },
                                                endpoint: endpoint, agentVersion: options.agentVersion)
        var wait = options.backoff.first
        var attempts = 0
        while true {
            do {
                let nodes = try await client.registerNodes(registration)
                try? options.stateDirectory.saveNodes(nodes)
                return nodes
            } catch AgentJoinError.refused(let status, let detail) where status == 401 || status == 403 || status == 400 {
                throw AgentJoinError.refused(status: status, detail: detail)
            } catch {
                attempts += 1
                if attempts >= 3, let saved = options.stateDirectory.loadNodes() {
                    logger.warning("control plane unreachable: using the last node registration", metadata: ["error": "\(error)"])
                    return saved
                }
                if Task.isCancelled { throw CancellationError() }
                logger.notice("node registration failed; retrying", metadata: ["error": "\(error)", "wait": "\(wait)"])
                try await Task.sleep(for: wait)
                wait = min(wait * 2, options.backoff.longest)
            }
        }
    }

    static func host(of url: String) -> String? {
        guard var host = URLComponents(string: url)?.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }

    static func summary(_ outcome: ClusterAgent.ApplyOutcome) -> String {
        switch outcome {
        case .applied(let generation, let actions, _):
            let changes = actions.values.flatMap { $0 }.filter(\.action.changesEngine).count
            return "applied generation \(generation), \(changes) engine change(s)"
        case .ignored(let reason): return "ignored: \(reason)"
        }
    }
}

/// A free TCP port on a host (bound and released: a small race the caller accepts).
enum FreePort {
    static func pick(host: String) throws -> Int {
        let fd = socket(host.contains(":") ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AgentJoinError.stateDirectory("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            guard bound == 0 else { throw AgentJoinError.stateDirectory("bind \(host): \(String(cString: strerror(errno)))") }
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return Int(UInt16(bigEndian: address.sin6_port))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw AgentJoinError.stateDirectory("bind \(host): \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy[metadataKey: key] = .string(value)
        return copy
    }
}
