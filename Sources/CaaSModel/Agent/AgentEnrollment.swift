import Foundation

// Bodies of the agent's enrollment calls (AgentWire JSON): `POST /v1/agent/join` on the public
// API (authenticated by the cluster's join token), and over mTLS `POST /v1/agent/renew` and
// `POST /v1/agent/nodes`; the answer to a push.

/// `POST /v1/agent/join` and `POST /v1/agent/renew`: a PKCS#10 request for the agent's new key.
public struct CertificateRequestBody: Codable, Sendable, Equatable {
    /// PEM `CERTIFICATE REQUEST`.
    public var csr: String
    public var hostname: String
    /// Where the agent serves its mTLS endpoint (`https://127.0.0.1:7443`); its host goes into
    /// the certificate so the control plane can verify it when pushing.
    public var endpoint: String?
    public var agentVersion: String?

    public init(csr: String, hostname: String, endpoint: String? = nil, agentVersion: String? = nil) {
        self.csr = csr
        self.hostname = hostname
        self.endpoint = endpoint
        self.agentVersion = agentVersion
    }
}

/// The answer to a join or a renewal: the agent's certificate and what it needs to trust.
public struct IssuedCertificateBody: Codable, Sendable, Equatable {
    public var agentId: String
    public var clusterId: String
    /// PEM: the agent's certificate followed by its cluster's CA certificate (the chain it presents).
    public var certificateChain: String
    /// PEM: the control plane's CA certificate, the one trust anchor of the agent.
    public var trustAnchor: String
    /// The control plane's agent-facing mTLS URL (`https://127.0.0.1:8443`).
    public var agentApiUrl: String
    public var certificateExpiresAt: Date
    public var certificateSerial: String

    public init(agentId: String, clusterId: String, certificateChain: String, trustAnchor: String, agentApiUrl: String,
                certificateExpiresAt: Date, certificateSerial: String) {
        self.agentId = agentId
        self.clusterId = clusterId
        self.certificateChain = certificateChain
        self.trustAnchor = trustAnchor
        self.agentApiUrl = agentApiUrl
        self.certificateExpiresAt = certificateExpiresAt
        self.certificateSerial = certificateSerial
    }
}

/// `POST /v1/agent/nodes`: the nodes the agent was configured with, by name.
public struct NodeRegistrationBody: Codable, Sendable, Equatable {
    public struct Node: Codable, Sendable, Equatable {
        /// The control plane's id (answers only).
        public var id: String?
        public var name: String
        /// `unix:///run/docker.sock`, `tcp+tls://10.0.0.5:2376`, …
        public var engineEndpoint: String

        public init(id: String? = nil, name: String, engineEndpoint: String) {
            self.id = id
            self.name = name
            self.engineEndpoint = engineEndpoint
        }
    }

    public var nodes: [Node]
    /// The agent's mTLS endpoint and version, recorded on its row.
    public var endpoint: String?
    public var agentVersion: String?

    public init(nodes: [Node], endpoint: String? = nil, agentVersion: String? = nil) {
        self.nodes = nodes
        self.endpoint = endpoint
        self.agentVersion = agentVersion
    }
}

/// The agent's answer to `PUT /agent/v1/desired-state`.
public struct PushAcknowledgementBody: Codable, Sendable, Equatable {
    public var applied: Bool
    public var appliedGeneration: Int64
    public var detail: String?

    public init(applied: Bool, appliedGeneration: Int64, detail: String? = nil) {
        self.applied = applied
        self.appliedGeneration = appliedGeneration
        self.detail = detail
    }
}
