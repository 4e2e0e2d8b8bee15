import CaaSModel
import CaaSPostgres
import Foundation

/// A CA as stored: its certificate and its private key sealed under the secrets key.
public struct StoredAuthority: Sendable, Equatable {
    public var certificatePEM: String
    public var sealedKey: [UInt8]

    public init(certificatePEM: String, sealedKey: [UInt8]) {
        self.certificatePEM = certificatePEM
        self.sealedKey = sealedKey
    }
}

/// The cluster a join token opens (found by the token's SHA-256).
public struct JoinableCluster: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var name: String
    public var status: String
    /// The stored digest, for the constant-time comparison the caller makes.
    public var joinTokenDigest: [UInt8]
    /// When the join token was issued (it expires `CAAS_JOIN_TOKEN_TTL` later).
    public var joinTokenCreatedAt: Date
    /// The tenant's status: a suspended tenant's clusters take no joins.
    public var tenantStatus: String
}

/// Where the control plane pushes a cluster's state, and who must answer there.
public struct AgentPushTarget: Sendable, Equatable {
    public var agentID: String
    public var endpoint: String
    /// Serials of the agent's certificates neither revoked nor expired.
    public var serials: Set<String>

    public init(agentID: String, endpoint: String, serials: Set<String>) {
        self.agentID = agentID
        self.endpoint = endpoint
        self.serials = serials
    }
}

/// An agent of a cluster as the API shows it.
public struct AgentRecord: Sendable, Equatable {
    public var id: String
    public var clusterID: String
    public var tenantID: String
    public var status: String
    public var hostname: String
    public var endpoint: String?
    public var agentVersion: String?
    public var certificateSerial: String
    public var certificateExpiresAt: Date
    public var joinedAt: Date
    public var renewedAt: Date?
    public var revokedAt: Date?
    public var revokedReason: String?
    /// From the cluster row: `agent_status`, `agent_seen_at`.
    public var connection: String
    public var lastSeenAt: Date?
}

/// What the mTLS check needs to know of a presented agent certificate.
public struct AgentCertificateRecord: Sendable, Equatable {
    public var serial: String
    public var clusterID: String
    public var tenantID: String
    public var agentID: String
    public var expiresAt: Date
    public var certificateRevoked: Bool
    public var agentStatus: String
    public var tenantStatus: String
}

/// A newly joined agent and its first certificate.
public struct NewAgent: Sendable, Equatable {
    public var id: String
    public var clusterID: String
    public var tenantID: String
    public var hostname: String
    public var endpoint: String?
    public var certificateSerial: String
    public var certificateExpiresAt: Date

    public init(id: String, clusterID: String, tenantID: String, hostname: String, endpoint: String?,
                certificateSerial: String, certificateExpiresAt: Date) {
        self.id = id
        self.clusterID = clusterID
        self.tenantID = tenantID
        self.hostname = hostname
        self.endpoint = endpoint
        self.certificateSerial = certificateSerial
        self.certificateExpiresAt = certificateExpiresAt
    }
}

/// A node the agent drives, as registration answers it.
public struct AgentNodeRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var engineEndpoint: String
}

let agentColumns = """
    a.id, a.cluster_id, a.tenant_id, a.status, a.hostname, a.endpoint, a.agent_version, a.certificate_serial,
    a.certificate_expires_at, a.joined_at, a.renewed_at, a.revoked_at, a.revoked_reason,
    c.agent_status, c.agent_seen_at
    """

extension AgentRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        clusterID = try row.decode("cluster_id")
        tenantID = try row.decode("tenant_id")
        status = try row.decode("status")
        hostname = try row.decode("hostname")
        endpoint = try row.decode("endpoint")
        agentVersion = try row.decode("agent_version")
        certificateSerial = try row.decode("certificate_serial")
        certificateExpiresAt = try row.decode("certificate_expires_at")
        joinedAt = try row.decode("joined_at")
        renewedAt = try row.decode("renewed_at")
        revokedAt = try row.decode("revoked_at")
        revokedReason = try row.decode("revoked_reason")
        connection = try row.decode("agent_status")
        lastSeenAt = try row.decode("agent_seen_at")
    }
}

extension SystemTransaction {
    // MARK: Certificate authorities

    public func controlPlaneAuthority() throws -> StoredAuthority? {
        try connection.query("SELECT certificate_pem, sealed_key FROM control_plane_authority WHERE id = 1").first.map {
            StoredAuthority(certificatePEM: try $0.decode("certificate_pem"), sealedKey: try $0.decode("sealed_key"))
        }
    }

    /// Stores the control-plane CA unless one exists (replicas starting together: the first wins;
    /// everyone reads the stored one afterwards).
    public func insertControlPlaneAuthority(_ authority: StoredAuthority) throws {
        _ = try connection.execute("""
            INSERT INTO control_plane_authority (id, certificate_pem, sealed_key) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING
            """, [authority.certificatePEM, authority.sealedKey])
    }

    public func clusterAuthority(clusterID: String) throws -> StoredAuthority? {
        try connection.query("SELECT certificate_pem, sealed_key FROM cluster_authorities WHERE cluster_id = $1", [clusterID]).first.map {
            StoredAuthority(certificatePEM: try $0.decode("certificate_pem"), sealedKey: try $0.decode("sealed_key"))
        }
    }

    /// Stores a cluster's CA unless it has one; answers the stored one.
    public func insertClusterAuthority(_ authority: StoredAuthority, clusterID: String, tenantID: String) throws -> StoredAuthority {
        _ = try connection.execute("""
            INSERT INTO cluster_authorities (cluster_id, tenant_id, certificate_pem, sealed_key) VALUES ($1, $2, $3, $4)
            ON CONFLICT (cluster_id) DO NOTHING
            """, [clusterID, tenantID, authority.certificatePEM, authority.sealedKey])
        guard let stored = try clusterAuthority(clusterID: clusterID) else { throw StoreError.notFound(kind: "cluster", id: clusterID) }
        return stored
    }

    // MARK: Joining

    /// The cluster whose join token has this SHA-256, locked for the join.
    public func clusterForJoinToken(digest: [UInt8]) throws -> JoinableCluster? {
        try connection.query("""
            SELECT c.id, c.tenant_id, c.name, c.status, c.join_token_digest, c.join_token_created_at, t.status AS tenant_status
            FROM clusters c JOIN tenants t ON t.id = c.tenant_id WHERE c.join_token_digest = $1 FOR UPDATE OF c
            """, [digest]).first.map {
            JoinableCluster(id: try $0.decode("id"), tenantID: try $0.decode("tenant_id"), name: try $0.decode("name"),
                            status: try $0.decode("status"), joinTokenDigest: try $0.decode("join_token_digest"),
                            joinTokenCreatedAt: try $0.decode("join_token_created_at"), tenantStatus: try $0.decode("tenant_status"))
        }
    }

    /// Records a joined agent with its first certificate. The cluster's previous agent (if any) is
    /// revoked with its certificates; a `pending` cluster becomes `active`; an event says so.
    public func registerAgent(_ agent: NewAgent) throws {
        let previous = try connection.query("""
            UPDATE cluster_agents SET status = 'revoked', revoked_at = now(), revoked_reason = $2
            WHERE cluster_id = $1 AND status = 'active' RETURNING id
            """, [agent.clusterID, "replaced by \(agent.id)"]).map { try $0.decode("id", as: String.self) }
        if !previous.isEmpty {
            _ = try connection.execute("UPDATE agent_certificates SET revoked_at = now() WHERE agent_id = ANY($1::text[]) AND revoked_at IS NULL",
                                       [previous])
        }
        _ = try connection.execute("""
            INSERT INTO cluster_agents (id, tenant_id, cluster_id, hostname, endpoint, certificate_serial, certificate_expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, [agent.id, agent.tenantID, agent.clusterID, agent.hostname, agent.endpoint, agent.certificateSerial, agent.certificateExpiresAt])
        _ = try connection.execute("""
            INSERT INTO agent_certificates (serial, tenant_id, cluster_id, agent_id, expires_at) VALUES ($1, $2, $3, $4, $5)
            """, [agent.certificateSerial, agent.tenantID, agent.clusterID, agent.id, agent.certificateExpiresAt])
        _ = try connection.execute("""
            UPDATE clusters SET agent_id = $2, agent_certificate_expires_at = $3,
                   status = CASE WHEN status = 'pending' THEN 'active' ELSE status END, updated_at = now()
            WHERE id = $1
            """, [agent.clusterID, agent.id, agent.certificateExpiresAt])
        let summary = previous.isEmpty
            ? "agent \(agent.id) joined cluster \(agent.clusterID)"
            : "agent \(agent.id) joined cluster \(agent.clusterID), replacing \(previous.joined(separator: ", "))"
        _ = try asTenant(agent.tenantID).appendEvent(type: "cluster.agent_joined", objectKind: "cluster", objectID: agent.clusterID, summary: summary)
    }

    /// A renewed certificate: recorded, the agent's earlier certificates revoked (a renewal
    /// replaces, it does not add a second key that works), and the agent and cluster show its expiry.
    public func recordRenewal(agentID: String, serial: String, expiresAt: Date) throws {
        guard let row = try connection.query("""
            UPDATE cluster_agents SET certificate_serial = $2, certificate_expires_at = $3, renewed_at = now()
            WHERE id = $1 AND status = 'active' RETURNING tenant_id, cluster_id
            """, [agentID, serial, expiresAt]).first else { throw StoreError.notFound(kind: "agent", id: agentID) }
        let tenantID: String = try row.decode("tenant_id"), clusterID: String = try row.decode("cluster_id")
        _ = try connection.execute("""
            INSERT INTO agent_certificates (serial, tenant_id, cluster_id, agent_id, expires_at) VALUES ($1, $2, $3, $4, $5)
            """, [serial, tenantID, clusterID, agentID, expiresAt])
        _ = try connection.execute("UPDATE agent_certificates SET revoked_at = now() WHERE agent_id = $1 AND serial <> $2 AND revoked_at IS NULL",
                                   [agentID, serial])
        _ = try connection.execute("UPDATE clusters SET agent_certificate_expires_at = $2 WHERE id = $1 AND agent_id = $3",
                                   [clusterID, expiresAt, agentID])
    }

    /// The issued certificate with this serial (and its agent's status); nil for serials never issued.
    public func agentCertificate(serial: String) throws -> AgentCertificateRecord? {
        try connection.query("""
            SELECT k.serial, k.cluster_id, k.tenant_id, k.agent_id, k.expires_at, k.revoked_at IS NOT NULL AS revoked, a.status,
                   t.status AS tenant_status
            FROM agent_certificates k JOIN cluster_agents a ON a.id = k.agent_id JOIN tenants t ON t.id = k.tenant_id WHERE k.serial = $1
            """, [serial]).first.map {
            AgentCertificateRecord(serial: try $0.decode("serial"), clusterID: try $0.decode("cluster_id"), tenantID: try $0.decode("tenant_id"),
                                   agentID: try $0.decode("agent_id"), expiresAt: try $0.decode("expires_at"),
                                   certificateRevoked: try $0.decode("revoked"), agentStatus: try $0.decode("status"),
                                   tenantStatus: try $0.decode("tenant_status"))
        }
    }

    /// Where and to whom the cluster's pushes go: its active agent's endpoint, id and the serials
    /// of its certificates in force. Nil without an active agent with an endpoint, and while the
    /// tenant is suspended (a suspended tenant's agents receive nothing).
    public func agentPushTarget(clusterID: String) throws -> AgentPushTarget? {
        guard let row = try connection.query("""
            SELECT a.id, a.endpoint,
                   ARRAY(SELECT k.serial FROM agent_certificates k
                         WHERE k.agent_id = a.id AND k.revoked_at IS NULL AND k.expires_at > now() ORDER BY k.serial) AS serials
            FROM cluster_agents a JOIN tenants t ON t.id = a.tenant_id
            WHERE a.cluster_id = $1 AND a.status = 'active' AND a.endpoint IS NOT NULL AND t.status = 'active'
            """, [clusterID]).first else { return nil }
        return AgentPushTarget(agentID: try row.decode("id"), endpoint: try row.decode("endpoint"),
                               serials: Set(try row.decode("serials", as: [String].self)))
    }

    /// The agent says where it listens and what it runs.
    public func updateAgent(agentID: String, endpoint: String?, version: String?) throws {
        _ = try connection.execute("""
            UPDATE cluster_agents SET endpoint = COALESCE($2, endpoint), agent_version = COALESCE($3, agent_version)
            WHERE id = $1 AND status = 'active'
            """, [agentID, endpoint, version])
    }

    /// Clusters whose agent has not been heard from for `seconds` show it `disconnected`; answers them.
    @discardableResult
    public func markSilentAgentsDisconnected(after seconds: Double) throws -> [String] {
        try connection.query("""
            UPDATE clusters SET agent_status = 'disconnected'
            WHERE agent_status = 'connected' AND agent_seen_at < now() - make_interval(secs => $1) RETURNING id
            """, [seconds]).map { try $0.decode("id", as: String.self) }
    }

    // MARK: Nodes

    /// The agent's nodes by name: nodes it names that the cluster lacks are created (each with
    /// its subnet, like `POST /v1/clusters/{id}/nodes`), nodes it names that exist take the
    /// endpoint it uses. Answers every node of the cluster (the agent also drives nodes created
    /// through the API, at their stored endpoint).
    public func registerAgentNodes(clusterID: String, tenantID: String, nodes: [(name: String, endpoint: String)],
                                   quotas: QuotaDefaults) throws -> [AgentNodeRecord] {
        let tenant = asTenant(tenantID)
        var created = false
        for node in nodes {
            let updated = try connection.execute("""
                UPDATE nodes SET engine_endpoint = $3, engine_tls = $4, version = version + 1, updated_at = now()
                WHERE cluster_id = $1 AND name = $2 AND engine_endpoint <> $3
                """, [clusterID, node.name, node.endpoint, node.endpoint.hasPrefix("tcp+tls://") || node.endpoint.hasPrefix("https://")])
            let found = try connection.query("SELECT 1 FROM nodes WHERE cluster_id = $1 AND name = $2", [clusterID, node.name])
            if updated == 0 && found.isEmpty {
                _ = try tenant.createNode(NewNode(id: Identifier.make(.node), clusterID: clusterID, name: node.name, engineEndpoint: node.endpoint,
                                                  engineTLS: node.endpoint.hasPrefix("tcp+tls://") || node.endpoint.hasPrefix("https://"),
                                                  labels: [:], capacityCPUs: 0, capacityMemory: 0), quotas: quotas)
                created = true
            }
        }
        // What could not be placed before (no nodes yet) is planned again.
        if created { try reconcileClusters([clusterID]) }
        return try connection.query("SELECT id, name, engine_endpoint FROM nodes WHERE cluster_id = $1 ORDER BY name, id", [clusterID]).map {
            AgentNodeRecord(id: try $0.decode("id"), name: try $0.decode("name"), engineEndpoint: try $0.decode("engine_endpoint"))
        }
    }

    /// What the agent measured of its engines: capacity fills in where the operator set none
    /// (0), and the engine version is kept. Reachability is the heartbeat's business.
    public func applyNodeCapacity(clusterID: String, _ observations: [NodeObservation]) throws {
        let known = observations.filter { $0.engineReachable }
        guard !known.isEmpty else { return }
        _ = try connection.execute("""
            WITH u AS (SELECT * FROM unnest($2::text[], $3::float8[], $4::int8[], $5::text[]) AS u(id, cpus, memory, version))
            UPDATE nodes n SET
                capacity_cpus = CASE WHEN n.capacity_cpus = 0 AND u.cpus IS NOT NULL THEN u.cpus ELSE n.capacity_cpus END,
                capacity_memory = CASE WHEN n.capacity_memory = 0 AND u.memory IS NOT NULL THEN u.memory ELSE n.capacity_memory END,
                engine_version = COALESCE(u.version, n.engine_version)
            FROM u WHERE n.id = u.id AND n.cluster_id = $1
              AND ((n.capacity_cpus = 0 AND u.cpus IS NOT NULL) OR (n.capacity_memory = 0 AND u.memory IS NOT NULL)
                   OR n.engine_version IS DISTINCT FROM COALESCE(u.version, n.engine_version))
            """, [clusterID, known.map(\.nodeId), known.map { $0.cpus.map(Double.init) }, known.map(\.memoryBytes), known.map(\.engineVersion)])
    }
}

extension TenantTransaction {
    /// The cluster's current agent (active, else the newest revoked one); nil when none joined.
    public func agent(clusterID: String) throws -> AgentRecord? {
        try connection.query("""
            SELECT \(agentColumns) FROM cluster_agents a JOIN clusters c ON c.id = a.cluster_id
            WHERE a.cluster_id = $1 AND a.tenant_id = $2 ORDER BY (a.status = 'active') DESC, a.joined_at DESC LIMIT 1
            """, [clusterID, tenantID]).first.map(AgentRecord.init(row:))
    }

    /// Revokes the cluster's active agent and every certificate it holds: its next mTLS call is
    /// refused. Answers the revoked agent; throws notFound when the cluster has no active agent.
    public func revokeAgent(clusterID: String, reason: String) throws -> AgentRecord {
        guard try connection.query("SELECT 1 FROM clusters WHERE id = $1 AND tenant_id = $2", [clusterID, tenantID]).first != nil else {
            throw StoreError.notFound(kind: "cluster", id: clusterID)
        }
        guard let row = try connection.query("""
            UPDATE cluster_agents SET status = 'revoked', revoked_at = now(), revoked_reason = $3
            WHERE cluster_id = $1 AND tenant_id = $2 AND status = 'active' RETURNING id
            """, [clusterID, tenantID, reason]).first else { throw StoreError.notFound(kind: "agent of cluster", id: clusterID) }
        let agentID: String = try row.decode("id")
        _ = try connection.execute("UPDATE agent_certificates SET revoked_at = now() WHERE agent_id = $1 AND revoked_at IS NULL", [agentID])
        _ = try connection.execute("""
            UPDATE clusters SET agent_status = 'disconnected', version = version + 1, updated_at = now() WHERE id = $1 AND tenant_id = $2
            """, [clusterID, tenantID])
        _ = try appendEvent(type: "cluster.agent_revoked", objectKind: "cluster", objectID: clusterID,
                            summary: "agent \(agentID) of cluster \(clusterID) revoked: \(reason)")
        guard let agent = try connection.query("SELECT \(agentColumns) FROM cluster_agents a JOIN clusters c ON c.id = a.cluster_id WHERE a.id = $1",
                                               [agentID]).first.map(AgentRecord.init(row:)) else {
            throw StoreError.notFound(kind: "agent", id: agentID)
        }
        return agent
    }

    /// Where a container runs, for its logs: its node and cluster; nil when the container is unknown.
    public func containerPlacement(_ containerID: String) throws -> (clusterID: String, nodeID: String?, observedState: String)? {
        try connection.query("""
            SELECT n.cluster_id AS node_cluster, a.cluster_id AS app_cluster, k.node_id, k.observed_state
            FROM containers k JOIN applications a ON a.id = k.application_id LEFT JOIN nodes n ON n.id = k.node_id
            WHERE k.id = $1 AND k.tenant_id = $2
            """, [containerID, tenantID]).first.map {
            let nodeCluster = try $0.decode("node_cluster", as: String?.self)
            let appCluster = try $0.decode("app_cluster", as: String.self)
            return (nodeCluster ?? appCluster, try $0.decode("node_id"), try $0.decode("observed_state"))
        }
    }
}
