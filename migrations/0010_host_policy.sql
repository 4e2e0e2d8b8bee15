-- 0010 host policy: what each tenant's containers may ask of the nodes (host path prefixes they
-- may bind-mount, host networking, privileged mode, added capabilities, devices, host PID/IPC,
-- external volumes), set by the system administrator through PUT /v1/tenants/{id}/policy.
-- The document is `HostPolicy` (Sources/CaaSModel/HostAccess): a member left out has its default,
-- so '{}' is the standard policy, which refuses every host bind. The tenants table already has
-- row-level security (0001): a tenant's transactions see only their own row.
ALTER TABLE tenants ADD COLUMN host_policy jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(host_policy) = 'object');
