-- 0001 tenancy: tenants, API tokens, events, idempotency keys, audit log, and row-level security.
--
-- Row-level security is the second wall behind the store's TenantScope. Every tenant-owned table:
--   * has a `tenant_id` column,
--   * ENABLEs and FORCEs row-level security (FORCE: the table owner is held to it too),
--   * has one policy `tenant_isolation` using caas_row_visible(tenant_id).
-- A row is visible when its tenant_id equals the transaction's `caas.tenant_id` setting, or when the
-- transaction turned on `caas.system` (workers and the system administrator; set only by the store's
-- system-scope code paths). A transaction that sets neither sees nothing.
--
-- The application's transactions run as the role `caas_app` (NOLOGIN, not a superuser, no
-- BYPASSRLS): the store begins every transaction with set_config('role', 'caas_app', true), i.e.
-- SET LOCAL ROLE. The login role in CAAS_DATABASE_URL must therefore be a member of caas_app
-- (a superuser always is). This migration creates the role when it is missing and grants
-- membership to the migrating role; where the migrating role may not create roles, an operator
-- runs `CREATE ROLE caas_app NOLOGIN; GRANT caas_app TO <login role>;` first.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'caas_app') THEN
        BEGIN
            CREATE ROLE caas_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another database of this cluster created it at the same moment
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'caas_app', 'MEMBER') THEN
        EXECUTE format('GRANT caas_app TO %I', current_user);
    END IF;
END
$$;

-- Whether a row of `tenant` is visible to the current transaction (see above).
CREATE FUNCTION caas_row_visible(tenant text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT tenant = current_setting('caas.tenant_id', true)
                 OR coalesce(current_setting('caas.system', true), '') = 'on' $$;

CREATE TABLE tenants (
    id               text PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    display_name     text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    suspended_reason text,
    -- Per-tenant quota overrides, e.g. {"clusters": 5}; a missing key uses the server's default.
    quotas           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(quotas) = 'object'),
    -- The tenant's event counter: writers take the next id with UPDATE … RETURNING inside their
    -- own transaction, so the row lock orders event ids by commit and readers never see a gap.
    last_event_id    bigint NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id            text PRIMARY KEY,
    -- NULL for the system administrator's tokens (role 'system').
    tenant_id     text REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'system')),
    -- SHA-256 of the whole secret ("caas_…"); the secret itself is never stored.
    secret_digest bytea NOT NULL UNIQUE CHECK (octet_length(secret_digest) = 32),
    created_by    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    version       bigint NOT NULL DEFAULT 1,
    CHECK ((role = 'system') = (tenant_id IS NULL))
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at, id);

CREATE TABLE events (
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          bigint NOT NULL,
    type        text NOT NULL,
    object_kind text NOT NULL,
    object_id   text NOT NULL,
    summary     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_created_at ON events (created_at);

-- Wakes long-polls and streams: delivered at commit, in commit order.
CREATE FUNCTION caas_notify_event() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('caas_events', NEW.tenant_id || ':' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION caas_notify_event();

CREATE TABLE idempotency_keys (
    -- The tenant's id, or 'system' for the system administrator's requests.
    tenant_id        text NOT NULL,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 over method, path and body: the same key with another request answers 422.
    request_digest   bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'done')),
    -- While pending: until when the executing request holds the key (a crashed replica's
    -- claim lapses and another request may take it over).
    locked_until     timestamptz,
    response_status  integer,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The tenant acted on; NULL for system-level actions that concern no tenant.
    tenant_id  text,
    token_id   text,
    token_name text,
    action     text NOT NULL,
    target     text,
    method     text NOT NULL,
    path       text NOT NULL,
    outcome    integer NOT NULL,
    request_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_created_at ON audit_log (created_at);

-- Row-level security: the second wall.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (caas_row_visible(id)) WITH CHECK (caas_row_visible(id));

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_tokens USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

-- What the application role may do. The audit log is append-only for it (DELETE for retention).
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, api_tokens, events, idempotency_keys TO caas_app;
GRANT SELECT, INSERT, DELETE ON audit_log TO caas_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO caas_app;
GRANT EXECUTE ON FUNCTION caas_row_visible(text) TO caas_app;
-- Later migrations' tables and sequences are granted to caas_app automatically; each still
-- enables, forces and writes its tenant_isolation policy itself.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO caas_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO caas_app;
