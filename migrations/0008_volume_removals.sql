-- 0008 volume removals: an application deleted with `volumes=true` (`caasctl down --volumes`)
-- leaves a row here for its cluster. Every push to the cluster lists these applications, and the
-- agent removes the engine volumes it created for them (labelled with the cluster, tenant and
-- application) on every node. A row goes once a push built after the application's rows were
-- gone (so after the agent confirmed all its containers removed) has been applied by the agent.
CREATE TABLE volume_removals (
    cluster_id      text NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    application_id  text NOT NULL,
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster_id, application_id)
);
CREATE INDEX volume_removals_tenant ON volume_removals (tenant_id);

ALTER TABLE volume_removals ENABLE ROW LEVEL SECURITY;
ALTER TABLE volume_removals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON volume_removals USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));
