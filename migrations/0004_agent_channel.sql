-- 0004 agent channel: the certificate authorities (one control-plane CA, one CA per cluster), the
-- agents that joined their cluster, and every certificate issued to them (the revocation list).
-- Private keys of CAs are stored sealed (AES-256-GCM under CAAS_SECRETS_KEY), never in clear.

-- The control plane's root CA: signs every cluster CA and the control plane's own certificates.
-- One row. Not tenant-owned: only the system scope sees it.
CREATE TABLE control_plane_authority (
    id               integer PRIMARY KEY CHECK (id = 1),
    certificate_pem  text NOT NULL,
    sealed_key       bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- One CA per cluster, signed by the control-plane CA; it signs the cluster's agent certificates.
CREATE TABLE cluster_authorities (
    cluster_id       text PRIMARY KEY REFERENCES clusters (id) ON DELETE CASCADE,
    tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    certificate_pem  text NOT NULL,
    sealed_key       bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Agents that joined a cluster. At most one is `active` per cluster: a new join revokes the
-- previous agent.
CREATE TABLE cluster_agents (
    id                    text PRIMARY KEY,
    tenant_id             text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    cluster_id            text NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    hostname              text NOT NULL DEFAULT '',
    -- Where the control plane pushes: the agent's mTLS endpoint (https://host:port).
    endpoint              text,
    agent_version         text,
    certificate_serial    text NOT NULL,
    certificate_expires_at timestamptz NOT NULL,
    joined_at             timestamptz NOT NULL DEFAULT now(),
    renewed_at            timestamptz,
    revoked_at            timestamptz,
    revoked_reason        text
);
CREATE UNIQUE INDEX cluster_agents_one_active ON cluster_agents (cluster_id) WHERE status = 'active';
CREATE INDEX cluster_agents_tenant ON cluster_agents (tenant_id, joined_at, id);

-- Every certificate issued to an agent, by serial: checked on each mTLS call (unknown or revoked
-- serials are refused). Rows of expired certificates may be pruned.
CREATE TABLE agent_certificates (
    serial         text PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    cluster_id     text NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    agent_id       text NOT NULL REFERENCES cluster_agents (id) ON DELETE CASCADE,
    expires_at     timestamptz NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
CREATE INDEX agent_certificates_agent ON agent_certificates (agent_id);

-- The cluster shows its agent: which one, and when its certificate expires (status and last seen
-- are 0002's agent_status and agent_seen_at; a revoked agent leaves the cluster `disconnected`).
ALTER TABLE clusters
    ADD COLUMN agent_id                      text,
    ADD COLUMN agent_certificate_expires_at  timestamptz;

ALTER TABLE control_plane_authority ENABLE ROW LEVEL SECURITY;
ALTER TABLE control_plane_authority FORCE ROW LEVEL SECURITY;
-- caas_row_visible(NULL) holds only in the system scope.
CREATE POLICY tenant_isolation ON control_plane_authority USING (caas_row_visible(NULL)) WITH CHECK (caas_row_visible(NULL));

ALTER TABLE cluster_authorities ENABLE ROW LEVEL SECURITY;
ALTER TABLE cluster_authorities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cluster_authorities USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE cluster_agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE cluster_agents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cluster_agents USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE agent_certificates ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_certificates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agent_certificates USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));
