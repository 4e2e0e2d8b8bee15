// caas-agent: configuration and start-up only (the work is in CaaSAgent).
import ArgumentParser
import CaaSAgent
import CaaSDNS
import CaaSHTTP
import Dispatch
import Foundation
import Logging

@main
struct CaaSAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caas-agent",
        abstract: "The caas cluster agent: runs the containers the control plane decides on, on this cluster's Docker engines.",
        discussion: """
            Join once with the cluster's join token (shown when the cluster is created \
            or its token rotated), then run. The agent keeps its key and certificates \
            in the state directory and renews its certificate by itself; later starts \
            need no token.

            Examples:
              caas-agent join --server http://127.0.0.1:8080 --ca-fingerprint 5f3c…e1 \\
                  --token "$CAAS_JOIN_TOKEN" --state-dir ./agent
              caas-agent join --server https://caas.example:8080 --ca-file api-ca.pem \\
                  --token caas_join_… --advertise https://10.0.0.7:7443
              caas-agent run --state-dir ./agent --listen 127.0.0.1:7443 \\
                  --node n1=unix:///run/docker.sock --node n2=tcp+tls://10.0.0.8:2376
              caas-agent run --config /etc/caas-agent.json
            """,
        subcommands: [Join.self, Run.self])

    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join a cluster: make a key, send a certificate request with the join token, keep the certificate.",
            discussion: """
                Over https:// the API's certificate tells who answers. Over plain http:// it \
                cannot: give the control plane's CA SHA-256 with --ca-fingerprint (an \
                administrator reads it with `GET /v1/clusters/{id}/agent/trust`), or say \
                --insecure-join and compare the fingerprint it prints.

                Example:
                  caas-agent join --server http://127.0.0.1:8080 --token caas_join_… \\
                      --ca-fingerprint 5f3c…e1 --state-dir ./agent --listen 127.0.0.1:7443
                """)

        @Option(help: "The control plane's public API URL.") var server: String
        @Option(help: "The cluster's join token (or set CAAS_JOIN_TOKEN).") var token: String?
        @Option(name: .customLong("ca-file"), help: "PEM file of the CA that signs the API's certificate (default: system roots).") var caFile: String?
        @Flag(name: .customLong("insecure-skip-verify"), help: "Development only: do not verify the API's certificate.") var insecureSkipVerify = false
        @Option(name: .customLong("ca-fingerprint"), help: "SHA-256 (hex) of the control plane's CA: the answer must carry this trust anchor.") var caFingerprint: String?
        @Flag(name: .customLong("insecure-join"), help: "Over plain http://, trust whatever CA answers (the fingerprint is printed to compare).") var insecureJoin = false
        @Option(name: .customLong("state-dir"), help: "Where the key and certificates are kept (mode 0700).") var stateDir = "/var/lib/caas-agent"
        @Option(help: "Where this agent's mTLS endpoint will listen (host:port); its host goes into the certificate.") var listen = "127.0.0.1:7443"
        @Option(help: "The URL the control plane uses to reach this agent (default https://<listen>).") var advertise: String?

        func run() async throws {
            guard let token = token ?? ProcessInfo.processInfo.environment["CAAS_JOIN_TOKEN"], !token.isEmpty else {
                throw ValidationError("a join token is needed: --token or CAAS_JOIN_TOKEN")
            }
            if caFile != nil && insecureSkipVerify { throw ValidationError("--ca-file and --insecure-skip-verify exclude each other") }
            let (host, port) = try parseListen(listen)
            let endpoint = advertise ?? "https://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            if caFingerprint != nil && insecureJoin { throw ValidationError("--ca-fingerprint and --insecure-join exclude each other") }
            let trust: JoinTrust = caFingerprint.map(JoinTrust.fingerprint) ?? (insecureJoin ? .insecure : .channel)
            let (state, fingerprint) = try await AgentJoiner(serverURL: server, token: token, caFile: caFile, insecureSkipVerify: insecureSkipVerify,
                                                             trust: trust, stateDirectory: AgentStateDirectory(path: stateDir),
                                                             endpoint: endpoint).joinReporting()
            print("joined cluster \(state.clusterId) as agent \(state.agentId); certificate valid until \(state.certificateExpiresAt)")
            print("the control plane's CA: sha256 \(fingerprint)" + (trust == .insecure ? " (not checked: compare it with GET /v1/clusters/\(state.clusterId)/agent/trust)" : ""))
            print("the control plane's agent endpoint: \(state.agentApiUrl); state kept in \(stateDir)")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the agent: serve pushes over mTLS, drive the nodes' engines, report to the control plane.",
            discussion: """
                Nodes are named with --node NAME=ENGINE (repeat it) or in a JSON \
                configuration file. A node the cluster lacks is registered under its name; \
                nodes added through the API are driven too, at their stored endpoint.

                  {"listen": "127.0.0.1:7443",
                   "nodes": [{"name": "n1", "engine_endpoint": "unix:///run/docker.sock"}]}

                A tcp+tls:// engine (dockerd --tlsverify) is reached with --engine-ca, \
                --engine-cert and --engine-key (or engine_ca, engine_cert, engine_key in \
                the file): the same client certificate and CA for every tcp+tls node.

                Example:
                  caas-agent run --state-dir ./agent --listen 127.0.0.1:7443 \\
                      --node n1=unix:///run/docker.sock
                """)

        @Option(name: .customLong("state-dir"), help: "The directory `join` filled.") var stateDir = "/var/lib/caas-agent"
        @Option(help: "Where the mTLS endpoint listens (host:port).") var listen: String?
        @Option(help: "The URL the control plane uses to reach this agent (default https://<listen>).") var advertise: String?
        @Option(name: .customLong("node"), help: "A node: NAME=ENGINE (unix:///path/docker.sock, tcp://h:2375, tcp+tls://h:2376). Repeatable.")
        var nodes: [String] = []
        @Option(help: "A JSON configuration file (listen, advertise, nodes, engine_ca, engine_cert, engine_key).") var config: String?
        @Option(name: .customLong("engine-ca"), help: "PEM file of the CA that signs the tcp+tls engines' certificates (dockerd --tlscacert; default: system roots).")
        var engineCA: String?
        @Option(name: .customLong("engine-cert"), help: "PEM client certificate presented to tcp+tls engines (dockerd --tlsverify); needs --engine-key.")
        var engineCert: String?
        @Option(name: .customLong("engine-key"), help: "PEM private key of --engine-cert.")
        var engineKey: String?
        @Option(name: .customLong("heartbeat-interval"), help: "Seconds between heartbeats.") var heartbeatInterval: Double = 1
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel = "info"
        @Option(name: .customLong("name-server-binary"), help: "The caas-dns binary the nodes with caas networks run (default: caas-dns beside caas-agent).")
        var nameServerBinary: String?
        @Option(name: .customLong("name-server-upstream"), help: "A resolver (IPv4[:port]) the nodes' name servers forward other names to; repeatable; 'none': refuse them (default: the engine's resolvers).")
        var nameServerUpstreams: [String] = []

        struct FileConfiguration: Decodable {
            struct Node: Decodable { var name: String; var engineEndpoint: String }
            var listen: String?
            var advertise: String?
            var nodes: [Node]?
            var engineCa: String?
            var engineCert: String?
            var engineKey: String?
        }

        func run() async throws {
            var options = AgentRuntimeOptions(stateDirectory: AgentStateDirectory(path: stateDir))
            var listenText = "127.0.0.1:7443"
            var advertised: String?
            var engineTLS = TLSConfiguration()
            if let config {
                let decoder = JSONDecoder()
                decoder.keyDecodingStrategy = .convertFromSnakeCase
                let file = try decoder.decode(FileConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: config)))
                if let listen = file.listen { listenText = listen }
                advertised = file.advertise
                options.nodes += (file.nodes ?? []).map { .init(name: $0.name, endpoint: $0.engineEndpoint) }
                engineTLS = TLSConfiguration(certificateChainFile: file.engineCert, privateKeyFile: file.engineKey, trustedCAFile: file.engineCa)
            }
            if let engineCA { engineTLS.trustedCAFile = engineCA }
            if let engineCert { engineTLS.certificateChainFile = engineCert }
            if let engineKey { engineTLS.privateKeyFile = engineKey }
            if (engineTLS.certificateChainFile == nil) != (engineTLS.privateKeyFile == nil) {
                throw ValidationError("--engine-cert and --engine-key go together")
            }
            if let listen { listenText = listen }
            if let advertise { advertised = advertise }
            for text in nodes {
                let parts = text.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, EngineEndpoint(String(parts[1])) != nil else {
                    throw ValidationError("--node \(text): expected NAME=unix:///path or NAME=tcp://host:port")
                }
                options.nodes.append(.init(name: String(parts[0]), endpoint: String(parts[1])))
            }
            (options.listenHost, options.listenPort) = try parseListen(listenText)
            options.advertisedEndpoint = advertised
            options.heartbeatInterval = .milliseconds(Int64(max(0.1, heartbeatInterval) * 1000))
            options.nameServerBinary = nameServerBinary
            if !nameServerUpstreams.isEmpty {
                if nameServerUpstreams == ["none"] {
                    options.nameServerUpstreams = []
                } else {
                    for upstream in nameServerUpstreams where UDPAddress(upstream, defaultPort: 53) == nil {
                        throw ValidationError("--name-server-upstream \(upstream): expected an IPv4 address[:port], or none alone")
                    }
                    options.nameServerUpstreams = nameServerUpstreams
                }
            }
            var logger = Logger(label: "caas.agent")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            // One client for every engine; its TLS settings apply to tcp+tls:// endpoints only.
            let engines = try HTTPClient(configuration: HTTPClientConfiguration(tls: engineTLS))
            let runtime = try await AgentRuntime.start(options: options, makeTransport: HTTPClientTransport.factory(engines), logger: logger)
            let task = Task { await runtime.run() }
            var sources: [DispatchSourceSignal] = []
            for signalNumber in [SIGTERM, SIGINT] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler { task.cancel() }
                source.resume()
                sources.append(source)
            }
            await task.value
            await runtime.shutdown()
            engines.shutdown()
            withExtendedLifetime(sources) {}
            logger.info("agent stopped; containers keep running")
        }
    }
}

/// `host:port` or `[v6]:port`.
func parseListen(_ text: String) throws -> (String, Int) {
    if text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":"),
       let port = Int(text[text.index(close, offsetBy: 2)...]), (0...65535).contains(port) {
        return (String(text[text.index(after: text.startIndex)..<close]), port)
    }
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("--listen \(text): expected host:port")
    }
    let host = String(text[..<colon])
    return (host.isEmpty ? "0.0.0.0" : host, port)
}
