-- Observed states move forward, with two exceptions for a container that is still wanted (not
-- removed, not replaced), both for what its agent observes after the control plane lost sight:
--   * lost → starting, running, exited or failed: it was lost with its node, which is back, and
--     it ran on (or ended) on the far side of a partition;
--   * exited or failed → starting or running, while it is meant to run: the agent restarted it in
--     place, as its restart policy says, while the control plane was out of reach.
-- (applyReport takes such an observation only when it is newer than the row's last one.)
-- Every other backward move is still refused.
CREATE OR REPLACE FUNCTION caas_observed_forward_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.observed_state <> OLD.observed_state
       AND caas_observed_rank(NEW.observed_state) <= caas_observed_rank(OLD.observed_state)
       AND NOT (NEW.replaced_by IS NULL AND NEW.desired_state <> 'removed'
                AND ((OLD.observed_state = 'lost' AND NEW.observed_state IN ('starting', 'running', 'exited', 'failed'))
                     OR (OLD.observed_state IN ('exited', 'failed') AND NEW.observed_state IN ('starting', 'running')
                         AND NEW.desired_state = 'running'))) THEN
        RAISE EXCEPTION 'container % cannot move from % back to %', OLD.id, OLD.observed_state, NEW.observed_state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
