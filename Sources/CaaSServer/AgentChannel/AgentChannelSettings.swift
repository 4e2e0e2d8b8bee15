import Foundation

/// Settings of the agent channel. `resolve` is pure so it is tested on values.
public struct AgentChannelSettings: Sendable, Equatable {
    /// `CAAS_AGENT_LISTEN`: where the mTLS listener for agents binds (`host:port`; port 0 picks one).
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 8443
    /// `CAAS_AGENT_URL`: the URL agents are told to call (`https://host:port`); by default the
    /// listen address. Its host goes into the listener's certificate.
    public var advertisedURL: String?
    /// `CAAS_AGENT_CERT_VALIDITY`: seconds an agent certificate is valid (default 7 days);
    /// agents renew at two thirds of it.
    public var agentCertificateValidity: TimeInterval = 7 * 86_400
    /// Validity of the control plane's own listener and push certificates (re-made at each start).
    public var controlPlaneCertificateValidity: TimeInterval = 30 * 86_400
    /// Extra names (DNS or IP) for the listener's certificate (`CAAS_AGENT_TLS_NAMES`, comma-separated).
    public var listenerNames: [String] = []
    /// An agent silent this long shows `disconnected` on its cluster (heartbeats come every second).
    public var agentDisconnectedAfter: TimeInterval = 5
    /// How long a push may take (the agent answers once every node converged).
    public var pushTimeout: Duration = .seconds(60)
    /// Failed joins allowed per client address: a burst, then this many per second.
    public var joinFailureBurst: Double = 10
    public var joinFailurePerSecond: Double = 0.5
    /// `CAAS_JOIN_TOKEN_TTL`: seconds a cluster's join token joins after it was issued (default
    /// 24 h); `POST /v1/clusters/{id}/join-token` issues a fresh one.
    public var joinTokenTTL: TimeInterval = 86_400

    public init() {}

    /// The URL agents call: the advertised one, else `https://<listen host>:<bound port>`.
    public func agentURL(boundPort: Int) -> String {
        if let advertisedURL { return advertisedURL }
        let host = listenHost == "0.0.0.0" ? "127.0.0.1" : listenHost == "::" ? "::1" : listenHost
        return "https://\(host.contains(":") ? "[\(host)]" : host):\(boundPort)"
    }

    public static func resolve(environment: [String: String]) throws(ConfigurationError) -> AgentChannelSettings {
        var settings = AgentChannelSettings()
        if let text = environment["CAAS_AGENT_LISTEN"], !text.isEmpty {
            let address: ListenAddress
            do { address = try ListenAddress(parsing: text) } catch {
                throw ConfigurationError(setting: "CAAS_AGENT_LISTEN", message: error.message)
            }
            guard case .tcp(let host, let port) = address else {
                throw ConfigurationError(setting: "CAAS_AGENT_LISTEN", message: "agents connect over TCP: host:port")
            }
            settings.listenHost = host
            settings.listenPort = port
        }
        if let text = environment["CAAS_AGENT_URL"], !text.isEmpty {
            guard text.hasPrefix("https://"), URLComponents(string: text)?.host?.isEmpty == false else {
                throw ConfigurationError(setting: "CAAS_AGENT_URL", message: "\(text) is not an https:// URL")
            }
            settings.advertisedURL = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        if let text = environment["CAAS_AGENT_CERT_VALIDITY"], !text.isEmpty {
            guard let seconds = Int(text), (300...(366 * 86_400)).contains(seconds) else {
                throw ConfigurationError(setting: "CAAS_AGENT_CERT_VALIDITY", message: "\(text) is not a number of seconds from 300 to 31622400")
            }
            settings.agentCertificateValidity = TimeInterval(seconds)
        }
        if let text = environment["CAAS_JOIN_TOKEN_TTL"], !text.isEmpty {
            guard let seconds = Int(text), (60...(366 * 86_400)).contains(seconds) else {
                throw ConfigurationError(setting: "CAAS_JOIN_TOKEN_TTL", message: "\(text) is not a number of seconds from 60 to 31622400")
            }
            settings.joinTokenTTL = TimeInterval(seconds)
        }
        if let text = environment["CAAS_AGENT_TLS_NAMES"], !text.isEmpty {
            settings.listenerNames = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return settings
    }
}

/// Where an agent says it serves its mTLS endpoint: `https://host:port` and nothing else (no
/// path, query, user info), since pushes carry a tenant's secrets. Nil when it is one; else why not.
enum AgentEndpointRule {
    static func problem(_ endpoint: String) -> String? {
        guard endpoint.utf8.count <= 512, let components = URLComponents(string: endpoint) else { return "\(endpoint.prefix(80)) is not a URL" }
        guard components.scheme == "https" else { return "the agent endpoint must be https://host:port (pushes carry secrets), not \(endpoint.prefix(80))" }
        guard let host = components.host, !host.isEmpty, components.port != nil, components.user == nil, components.password == nil,
              components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil else {
            return "the agent endpoint must be https://host:port, not \(endpoint.prefix(80))"
        }
        return nil
    }
}

/// A host of a URL as a certificate name: IP addresses and DNS names are different SAN types.
enum CertificateNames {
    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// The host of `https://host:port/…` (brackets of IPv6 literals removed).
    static func host(ofURL url: String) -> String? {
        guard let components = URLComponents(string: url), var host = components.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }
}
