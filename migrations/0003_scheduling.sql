-- 0003 scheduling: the job queue, and what the reconciler, the pusher and the agent reports
-- need on top of 0002's resources (fencing, backoff, stats, cluster generations, rollouts).

-- The job queue. A job is claimed with FOR UPDATE SKIP LOCKED and held under a lease
-- (`locked_by`, `locked_until`); a lease that runs out (its replica died) lets another worker
-- take the job again. A job that keeps failing waits an exponential, jittered backoff
-- (`run_after`) and ends `failed` after `max_attempts`, visible to system administrators.
CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    -- The tenant the work is for; NULL for system work (retention, …).
    tenant_id    text REFERENCES tenants (id) ON DELETE CASCADE,
    -- Work that is queued once while pending ("reconcile app X"): a second enqueue of the same
    -- key while one is queued only moves the queued one earlier.
    dedupe_key   text,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'superseded')),
    run_after    timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    last_error   text,
    locked_by    text,
    locked_until timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    CHECK ((state = 'running') = (locked_until IS NOT NULL))
);
CREATE UNIQUE INDEX jobs_dedupe_queued ON jobs (dedupe_key) WHERE state = 'queued';
CREATE INDEX jobs_queued ON jobs (run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (state, finished_at, id) WHERE state IN ('succeeded', 'failed', 'superseded');

-- Wakes workers at commit: on every job that becomes (or stays) queued, the payload is its kind.
-- Workers also re-read the earliest run_after, so a job queued for later is waited for exactly.
CREATE FUNCTION caas_notify_jobs() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.state = 'queued' THEN
        PERFORM pg_notify('caas_jobs', NEW.kind);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state, run_after ON jobs
    FOR EACH ROW EXECUTE FUNCTION caas_notify_jobs();

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
-- caas_row_visible(NULL) is true only in the system scope: tenant transactions see and enqueue
-- their own tenant's jobs, workers (system scope) see all.
CREATE POLICY tenant_isolation ON jobs USING (caas_row_visible(tenant_id)) WITH CHECK (caas_row_visible(tenant_id));

-- 0002's hook: every reconcile request becomes (at most one queued) reconcile job, in the same
-- transaction as the API change that wrote it.
CREATE FUNCTION caas_reconcile_request_job() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO jobs (kind, payload, tenant_id, dedupe_key, max_attempts)
    VALUES ('reconcile', jsonb_build_object('application_id', NEW.application_id), NEW.tenant_id,
            'reconcile:' || NEW.application_id, 20)
    ON CONFLICT (dedupe_key) WHERE state = 'queued'
    DO UPDATE SET run_after = LEAST(jobs.run_after, now()), updated_at = now();
    RETURN NULL;
END
$$;
CREATE TRIGGER reconcile_requests_job AFTER INSERT ON reconcile_requests
    FOR EACH ROW EXECUTE FUNCTION caas_reconcile_request_job();

-- Containers: fencing, restart backoff, what the agent reported, and the reservation the
-- container holds (copied from its spec at placement, so node usage is one aggregate).
ALTER TABLE containers
    ADD COLUMN replaced_by         text,
    ADD COLUMN not_before          timestamptz,
    ADD COLUMN cause               text,
    ADD COLUMN reason              text,
    ADD COLUMN last_exit_at        timestamptz,
    ADD COLUMN healthy_since       timestamptz,
    ADD COLUMN engine_container_id text,
    ADD COLUMN cpu_percent         double precision,
    ADD COLUMN memory_bytes        bigint,
    ADD COLUMN stats_at            timestamptz,
    ADD COLUMN reserved_cpus       double precision NOT NULL DEFAULT 0,
    ADD COLUMN reserved_memory     bigint NOT NULL DEFAULT 0,
    ADD COLUMN host_ports          text[] NOT NULL DEFAULT '{}';
CREATE INDEX containers_application ON containers (application_id);
CREATE INDEX containers_host_ports ON containers (node_id) WHERE host_ports <> '{}';

-- Nodes: what heartbeats say of the engine, the status to return to after `down`, and how many
-- containers hold resources there (with 0002's allocated_cpus/allocated_memory, kept by the
-- trigger below, so the planner's node usage is read from 1 row per node, not summed).
ALTER TABLE nodes
    ADD COLUMN allocated_containers integer NOT NULL DEFAULT 0,
    ADD COLUMN engine_reachable    boolean,
    ADD COLUMN engine_error        text,
    ADD COLUMN engine_version      text,
    ADD COLUMN status_before_down  text CHECK (status_before_down IN ('ready', 'draining', 'paused'));

-- A container holds its reservation on its node while it is meant to run, has not ended and is
-- not fenced (replaced). Statement-level triggers add what new rows hold and take what old rows
-- held, one UPDATE per statement whatever its size (a plan inserts thousands of rows at once).
CREATE FUNCTION caas_container_usage() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ids text[];
    cpus float8[];
    memory int8[];
    counts int8[];
BEGIN
    -- The change per node: what new rows hold minus what old rows held (a statement-level
    -- trigger sees only the transition tables of its own event).
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(node_id ORDER BY node_id), array_agg(c ORDER BY node_id), array_agg(m ORDER BY node_id),
               array_agg(n ORDER BY node_id)
        INTO ids, cpus, memory, counts
        FROM (SELECT node_id, sum(c) AS c, sum(m)::int8 AS m, sum(n)::int8 AS n FROM (
                SELECT node_id, reserved_cpus AS c, reserved_memory AS m, 1 AS n FROM new_rows
                WHERE node_id IS NOT NULL AND desired_state = 'running' AND replaced_by IS NULL
                  AND observed_state NOT IN ('exited', 'failed', 'lost', 'removed')
              ) AS changes GROUP BY node_id HAVING sum(c) <> 0 OR sum(m) <> 0 OR sum(n) <> 0) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(node_id ORDER BY node_id), array_agg(c ORDER BY node_id), array_agg(m ORDER BY node_id),
               array_agg(n ORDER BY node_id)
        INTO ids, cpus, memory, counts
        FROM (SELECT node_id, sum(c) AS c, sum(m)::int8 AS m, sum(n)::int8 AS n FROM (
                SELECT node_id, -reserved_cpus AS c, -reserved_memory AS m, -1 AS n FROM old_rows
                WHERE node_id IS NOT NULL AND desired_state = 'running' AND replaced_by IS NULL
                  AND observed_state NOT IN ('exited', 'failed', 'lost', 'removed')
              ) AS changes GROUP BY node_id HAVING sum(c) <> 0 OR sum(m) <> 0 OR sum(n) <> 0) AS d;
    ELSE
        SELECT array_agg(node_id ORDER BY node_id), array_agg(c ORDER BY node_id), array_agg(m ORDER BY node_id),
               array_agg(n ORDER BY node_id)
        INTO ids, cpus, memory, counts
        FROM (SELECT node_id, sum(c) AS c, sum(m)::int8 AS m, sum(n)::int8 AS n FROM (
                SELECT node_id, reserved_cpus AS c, reserved_memory AS m, 1 AS n FROM new_rows
                WHERE node_id IS NOT NULL AND desired_state = 'running' AND replaced_by IS NULL
                  AND observed_state NOT IN ('exited', 'failed', 'lost', 'removed')
                UNION ALL
                SELECT node_id, -reserved_cpus AS c, -reserved_memory AS m, -1 AS n FROM old_rows
                WHERE node_id IS NOT NULL AND desired_state = 'running' AND replaced_by IS NULL
                  AND observed_state NOT IN ('exited', 'failed', 'lost', 'removed')
              ) AS changes GROUP BY node_id HAVING sum(c) <> 0 OR sum(m) <> 0 OR sum(n) <> 0) AS d;
    END IF;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- Lock the node rows in id order first: statements touching overlapping nodes wait for each
    -- other instead of deadlocking.
    PERFORM 1 FROM nodes WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE nodes x SET allocated_cpus = GREATEST(0, x.allocated_cpus + u.c),
                       allocated_memory = GREATEST(0, x.allocated_memory + u.m),
                       allocated_containers = GREATEST(0, x.allocated_containers + u.n)
    FROM unnest(ids, cpus, memory, counts) AS u(id, c, m, n)
    WHERE x.id = u.id;
    RETURN NULL;
END
$$;

-- Clusters: the desired-state generation (every applied plan that touches the cluster bumps
-- it), the last one pushed and the last one the agent applied; the agent's report sequence.
ALTER TABLE clusters
    ADD COLUMN desired_generation  bigint NOT NULL DEFAULT 0,
    ADD COLUMN pushed_generation   bigint NOT NULL DEFAULT 0,
    ADD COLUMN applied_generation  bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_report_sequence bigint NOT NULL DEFAULT 0,
    ADD COLUMN pushed_at           timestamptz;

-- Services: the previous generation (the rollback target), the persisted rollout, why slots
-- are unplaced, and the autoscaler's last change.
ALTER TABLE services
    ADD COLUMN previous_spec       jsonb,
    ADD COLUMN previous_generation bigint,
    ADD COLUMN rollout             jsonb,
    ADD COLUMN unplaced            text,
    ADD COLUMN last_scaled_at      timestamptz;

-- A service that moves to a new generation keeps the one before: the target of a rollback.
CREATE FUNCTION caas_service_previous_generation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.generation > OLD.generation THEN
        NEW.previous_spec := OLD.spec;
        NEW.previous_generation := OLD.generation;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER services_previous_generation BEFORE UPDATE OF generation ON services
    FOR EACH ROW EXECUTE FUNCTION caas_service_previous_generation();

-- Deployments: the per-service rollout states of this deployment, as the planner left them.
ALTER TABLE deployments
    ADD COLUMN rollouts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rollouts) = 'object');

CREATE TRIGGER containers_usage_insert AFTER INSERT ON containers REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION caas_container_usage();
CREATE TRIGGER containers_usage_update AFTER UPDATE ON containers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION caas_container_usage();
CREATE TRIGGER containers_usage_delete AFTER DELETE ON containers REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION caas_container_usage();

-- Node changes (added, drained, paused, activated, down, back) reconcile every application of
-- the cluster, in the same transaction: pending (unplaced) containers are retried, containers on
-- nodes that stopped taking them move.
CREATE FUNCTION caas_node_change_jobs() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status AND NEW.labels IS NOT DISTINCT FROM OLD.labels
       AND NEW.capacity_cpus = OLD.capacity_cpus AND NEW.capacity_memory = OLD.capacity_memory THEN
        RETURN NULL;
    END IF;
    INSERT INTO jobs (kind, payload, tenant_id, dedupe_key, max_attempts)
    SELECT 'reconcile', jsonb_build_object('application_id', a.id), a.tenant_id, 'reconcile:' || a.id, 20
    FROM applications a WHERE a.cluster_id = NEW.cluster_id
    ORDER BY a.id
    ON CONFLICT (dedupe_key) WHERE state = 'queued'
    DO UPDATE SET run_after = LEAST(jobs.run_after, now()), updated_at = now();
    RETURN NULL;
END
$$;
CREATE TRIGGER nodes_change_jobs AFTER INSERT OR UPDATE OF status, labels, capacity_cpus, capacity_memory ON nodes
    FOR EACH ROW EXECUTE FUNCTION caas_node_change_jobs();

GRANT EXECUTE ON FUNCTION caas_notify_jobs() TO caas_app;
