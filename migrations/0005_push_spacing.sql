-- 0005 push spacing: how long a cluster's last push took (reading its desired state and sending
-- it). Pushes of a big cluster under a stream of changes are spaced by twice that, so changes are
-- pushed in batches instead of once each (a queued push absorbs the changes meanwhile).
ALTER TABLE clusters
    ADD COLUMN last_push_ms integer NOT NULL DEFAULT 0 CHECK (last_push_ms >= 0);
