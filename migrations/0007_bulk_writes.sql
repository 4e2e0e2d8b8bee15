-- 0007 bulk writes: the scheduler applies the plans of many applications in one transaction and
-- writes thousands of container rows and events at once. Row-by-row checks were most of the cost
-- of those inserts; they become fewer (containers) or one per statement (events), with the same
-- guarantees.

-- Containers reference their service by (id, application, tenant) in one foreign key instead of
-- three (tenant, application, service): one check per row instead of three, and stricter, since
-- a container's application and tenant must now be its service's. Deleting a service (or its
-- application, which deletes its services) still deletes its containers; a tenant that has
-- services still cannot be deleted.
ALTER TABLE services ADD CONSTRAINT services_identity UNIQUE (id, application_id, tenant_id);
ALTER TABLE containers
    DROP CONSTRAINT containers_tenant_id_fkey,
    DROP CONSTRAINT containers_application_id_fkey,
    DROP CONSTRAINT containers_service_id_fkey,
    ADD CONSTRAINT containers_service_fkey FOREIGN KEY (service_id, application_id, tenant_id)
        REFERENCES services (id, application_id, tenant_id) ON DELETE CASCADE;

-- Events: what the per-row foreign key and the per-row NOTIFY trigger did, once per statement.
-- Every tenant of the new rows must exist; it is locked FOR KEY SHARE (as a foreign key check
-- locks it), so it cannot be deleted before this transaction ends. Then one notification per
-- tenant carries its newest event id: listeners wake and read everything after their cursor.
ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
DROP TRIGGER events_notify ON events;
DROP FUNCTION caas_notify_event();

CREATE FUNCTION caas_events_appended() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    wanted int;
    locked int;
    newest record;
BEGIN
    SELECT count(DISTINCT tenant_id) INTO wanted FROM new_rows;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM tenants WHERE id IN (SELECT tenant_id FROM new_rows) ORDER BY id FOR KEY SHARE
    ) AS t;
    IF locked <> wanted THEN
        RAISE EXCEPTION 'insert into events violates the reference to tenants: a tenant does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'events', CONSTRAINT = 'events_tenant_exists';
    END IF;
    FOR newest IN SELECT tenant_id, max(id) AS id FROM new_rows GROUP BY tenant_id ORDER BY tenant_id LOOP
        PERFORM pg_notify('caas_events', newest.tenant_id || ':' || newest.id);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_appended AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION caas_events_appended();

-- A deleted tenant takes its events along (what ON DELETE CASCADE did).
CREATE FUNCTION caas_tenants_deleted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM events WHERE tenant_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_delete_events AFTER DELETE ON tenants REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION caas_tenants_deleted();

GRANT EXECUTE ON FUNCTION caas_events_appended() TO caas_app;
GRANT EXECUTE ON FUNCTION caas_tenants_deleted() TO caas_app;
