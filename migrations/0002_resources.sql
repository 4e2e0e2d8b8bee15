-- 0002 resources: clusters, nodes (with their subnets), templates and their immutable versions,
-- images, applications, services, containers, deployments, and the reconcile requests the
-- scheduler consumes. Every table is tenant-owned and follows 0001's rules: a `tenant_id` column,
-- row-level security ENABLEd and FORCEd with one `tenant_isolation` policy, privileges for
-- caas_app from 0001's default privileges. Tenants are referenced ON DELETE RESTRICT: a tenant
-- that still owns resources cannot be deleted.

CREATE TABLE clusters (
    id                 text PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    name               text NOT NULL,
    description        text NOT NULL DEFAULT '',
    labels             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    -- The cluster's container network: stored and carved into node subnets, never routed to.
    network_cidr       cidr NOT NULL CHECK (family(network_cidr) = 4),
    -- Length of every node subnet of this cluster (fixed: equal, aligned blocks never overlap
    -- partially, so the unique constraint on nodes (cluster_id, subnet) is an exact overlap check).
    node_subnet_prefix integer NOT NULL CHECK (node_subnet_prefix BETWEEN 1 AND 30),
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'deleting')),
    agent_status       text NOT NULL DEFAULT 'unknown' CHECK (agent_status IN ('unknown', 'connected', 'disconnected')),
    agent_seen_at      timestamptz,
    -- SHA-256 of the join token ("caas_join_…"); the token itself is never stored.
    join_token_digest  bytea NOT NULL UNIQUE CHECK (octet_length(join_token_digest) = 32),
    join_token_created_at timestamptz NOT NULL DEFAULT now(),
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    CHECK (node_subnet_prefix > masklen(network_cidr))
);
CREATE INDEX clusters_tenant ON clusters (tenant_id, created_at, id);

CREATE TABLE nodes (
    id                 text PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    cluster_id         text NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name               text NOT NULL,
    engine_endpoint    text NOT NULL,
    engine_tls         boolean NOT NULL DEFAULT false,
    labels             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    capacity_cpus      double precision NOT NULL DEFAULT 0 CHECK (capacity_cpus >= 0),
    capacity_memory    bigint NOT NULL DEFAULT 0 CHECK (capacity_memory >= 0),
    allocated_cpus     double precision NOT NULL DEFAULT 0 CHECK (allocated_cpus >= 0),
    allocated_memory   bigint NOT NULL DEFAULT 0 CHECK (allocated_memory >= 0),
    status             text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'down', 'draining', 'paused')),
    status_reason      text,
    last_heartbeat_at  timestamptz,
    -- IPAM: this node's block of the cluster network. Freed with the row, reused by the next node.
    subnet             cidr NOT NULL,
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cluster_id, name),
    UNIQUE (cluster_id, subnet)
);
CREATE INDEX nodes_tenant ON nodes (tenant_id, created_at, id);
CREATE INDEX nodes_cluster ON nodes (cluster_id, created_at, id);

-- A node's subnet must lie inside its cluster's network and have the cluster's subnet length.
CREATE FUNCTION caas_check_node_subnet() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    network cidr;
    prefix integer;
BEGIN
    SELECT network_cidr, node_subnet_prefix INTO network, prefix FROM clusters WHERE id = NEW.cluster_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no cluster %', NEW.cluster_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NOT (NEW.subnet <<= network) OR masklen(NEW.subnet) <> prefix THEN
        RAISE EXCEPTION 'subnet % is not a /% of %', NEW.subnet, prefix, network USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER nodes_subnet_check BEFORE INSERT OR UPDATE OF subnet, cluster_id ON nodes
    FOR EACH ROW EXECUTE FUNCTION caas_check_node_subnet();

CREATE TABLE templates (
    id             text PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    -- The number the last version got; numbers are never reused, even after a version is deleted.
    version_counter integer NOT NULL DEFAULT 0,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX templates_tenant ON templates (tenant_id, created_at, id);

-- Immutable: rows are inserted and (when unused) deleted, never updated.
CREATE TABLE template_versions (
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    template_id  text NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    number       integer NOT NULL CHECK (number >= 1),
    compose      text NOT NULL,
    -- SHA-256 of the compose text.
    digest       bytea NOT NULL CHECK (octet_length(digest) = 32),
    -- The variables the text references (from the parser): [{name, default, required, …}].
    variables    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(variables) = 'array'),
    -- Parser warnings at creation time.
    warnings     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(warnings) = 'array'),
    description  text NOT NULL DEFAULT '',
    author       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, number)
);

CREATE FUNCTION caas_template_versions_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'template versions are immutable' USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER template_versions_immutable BEFORE UPDATE ON template_versions
    FOR EACH ROW EXECUTE FUNCTION caas_template_versions_immutable();

CREATE TABLE images (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    repository  text NOT NULL,
    tag         text NOT NULL,
    digest      text,
    description text NOT NULL DEFAULT '',
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, repository, tag)
);
CREATE INDEX images_tenant ON images (tenant_id, repository, tag, id);

CREATE TABLE applications (
    id                  text PRIMARY KEY,
    tenant_id           text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    cluster_id          text NOT NULL REFERENCES clusters (id) ON DELETE RESTRICT,
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    source              text NOT NULL CHECK (source IN ('template', 'compose', 'image')),
    template_id         text,
    template_version    integer,
    image_id            text REFERENCES images (id) ON DELETE SET NULL,
    -- The compose text the current generation was parsed from (inline or the template version's).
    compose             text,
    -- The parsed AppSpec (secret environment values sealed, see ApplicationSecrets).
    spec                jsonb NOT NULL,
    -- Deploy-time variables; values of secret-looking names are sealed ({"sealed": "…"}).
    variables           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'deploying', 'running', 'degraded', 'failed', 'deleting')),
    status_reason       text,
    version             bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleting_at         timestamptz,
    UNIQUE (tenant_id, cluster_id, name),
    -- A template version in use cannot be deleted.
    FOREIGN KEY (template_id, template_version) REFERENCES template_versions (template_id, number) ON DELETE RESTRICT,
    CHECK ((source = 'template') = (template_id IS NOT NULL AND template_version IS NOT NULL))
);
CREATE INDEX applications_tenant ON applications (tenant_id, created_at, id);
CREATE INDEX applications_cluster ON applications (cluster_id);
CREATE INDEX applications_template ON applications (template_id, template_version);

CREATE TABLE services (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    application_id   text NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name             text NOT NULL,
    -- 'container': containers are placed for it; 'external': an endpoint outside the cluster.
    kind             text NOT NULL CHECK (kind IN ('container', 'external')),
    image            text,
    mode             text NOT NULL DEFAULT 'replicated' CHECK (mode IN ('replicated', 'global')),
    -- The ServiceSpec (container) or ExternalServiceSpec (external) of the current generation.
    spec             jsonb NOT NULL,
    desired_replicas integer NOT NULL DEFAULT 0 CHECK (desired_replicas >= 0),
    endpoint_host    text,
    endpoint_ports   integer[] NOT NULL DEFAULT '{}',
    generation       bigint NOT NULL DEFAULT 1,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'degraded', 'removing', 'external')),
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (application_id, name)
);
CREATE INDEX services_tenant ON services (tenant_id, created_at, id);

CREATE TABLE containers (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    application_id  text NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    service_id      text NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    node_id         text REFERENCES nodes (id) ON DELETE SET NULL,
    slot            integer NOT NULL CHECK (slot >= 0),
    generation      bigint NOT NULL,
    -- Written by the control plane only.
    desired_state   text NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'stopped', 'removed')),
    -- Written by agents only, and only forward (trigger below).
    observed_state  text NOT NULL DEFAULT 'pending'
                    CHECK (observed_state IN ('pending', 'assigned', 'starting', 'running', 'exited', 'failed', 'lost', 'removed')),
    health          text NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'starting', 'healthy', 'unhealthy')),
    address         text,
    ports           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ports) = 'array'),
    exit_code       integer,
    restart_count   integer NOT NULL DEFAULT 0 CHECK (restart_count >= 0),
    status_message  text,
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    observed_at     timestamptz
);
CREATE INDEX containers_tenant ON containers (tenant_id, created_at, id);
CREATE INDEX containers_service ON containers (service_id, slot);
CREATE INDEX containers_node ON containers (node_id) WHERE node_id IS NOT NULL;

-- The rank of an observed state: pending 0, assigned 1, starting 2, running 3,
-- exited/failed/lost 4, removed 5 (CaaSModel's ObservedContainerState.rank).
CREATE FUNCTION caas_observed_rank(state text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE state WHEN 'pending' THEN 0 WHEN 'assigned' THEN 1 WHEN 'starting' THEN 2
                             WHEN 'running' THEN 3 WHEN 'removed' THEN 5 ELSE 4 END $$;

-- A container's observed state only moves forward; the database refuses anything else.
CREATE FUNCTION caas_observed_forward_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.observed_state <> OLD.observed_state
       AND caas_observed_rank(NEW.observed_state) <= caas_observed_rank(OLD.observed_state) THEN
        RAISE EXCEPTION 'container % cannot move from % back to %', OLD.id, OLD.observed_state, NEW.observed_state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER containers_observed_forward_only BEFORE UPDATE OF observed_state ON containers
    FOR EACH ROW EXECUTE FUNCTION caas_observed_forward_only();

CREATE TABLE deployments (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    application_id   text NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    -- The generation this rollout brings the application to (= to_generation).
    generation       bigint NOT NULL,
    from_generation  bigint,
    to_generation    bigint NOT NULL,
    strategy         text NOT NULL DEFAULT 'rolling' CHECK (strategy IN ('create', 'rolling', 'delete')),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back', 'superseded')),
    progress_updated integer NOT NULL DEFAULT 0 CHECK (progress_updated >= 0),
    progress_total   integer NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    outcome          text CHECK (outcome IN ('succeeded', 'failed', 'rolled_back')),
    reason           text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    deadline         timestamptz NOT NULL,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (application_id, generation, strategy)
);
CREATE INDEX deployments_application ON deployments (application_id, created_at, id);

-- Work for the scheduler (issue 5): every application create, update, scale or delete writes one
-- row in the same transaction; the reconciler claims them with FOR UPDATE SKIP LOCKED.
CREATE TABLE reconcile_requests (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    application_id text NOT NULL,
    reason         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    claimed_at     timestamptz,
    done_at        timestamptz
);
CREATE INDEX reconcile_requests_pending ON reconcile_requests (id) WHERE done_at IS NULL;

-- Wakes the reconciler at commit.
CREATE FUNCTION caas_notify_reconcile() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('caas_reconcile', NEW.tenant_id || ':' || NEW.application_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER reconcile_requests_notify AFTER INSERT ON reconcile_requests
    FOR EACH ROW EXECUTE FUNCTION caas_notify_reconcile();

-- Row-level security: the second wall, on every table above.
ALTER TABLE clusters ENABLE ROW LEVEL SECURITY;
ALTER TABLE clusters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clusters USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE nodes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON nodes USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON templates USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE template_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE template_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON template_versions USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE images ENABLE ROW LEVEL SECURITY;
ALTER TABLE images FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON images USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE applications ENABLE ROW LEVEL SECURITY;
ALTER TABLE applications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON applications USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE services ENABLE ROW LEVEL SECURITY;
ALTER TABLE services FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON services USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE containers ENABLE ROW LEVEL SECURITY;
ALTER TABLE containers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON containers USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE deployments ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deployments USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE reconcile_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE reconcile_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reconcile_requests USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

-- Tables and sequences get caas_app's privileges from 0001's default privileges; the functions
-- are granted here (EXECUTE is PUBLIC by default, stated for clarity).
GRANT EXECUTE ON FUNCTION caas_observed_rank(text) TO caas_app;
