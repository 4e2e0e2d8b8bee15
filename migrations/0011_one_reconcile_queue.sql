-- One reconcile queue: API writers enqueue `reconcile` jobs directly, as the workers do, instead
-- of writing `reconcile_requests` rows that a trigger copied into `jobs` (and another notified a
-- channel nobody listened to). Pending requests became jobs when they were written, so nothing
-- is lost with the table.
DROP TRIGGER reconcile_requests_job ON reconcile_requests;
DROP TRIGGER reconcile_requests_notify ON reconcile_requests;
DROP FUNCTION caas_reconcile_request_job();
DROP FUNCTION caas_notify_reconcile();
DROP TABLE reconcile_requests;
