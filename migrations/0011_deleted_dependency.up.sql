-- A dependency deleted before it finished (the admin API, `docket jobs delete`, the app's own
-- DELETE) settles its waiting dependents like a failed one: under 'cancel' they are cancelled,
-- under 'run' they count it as finished. Without this they would wait for ever. A dependency
-- deleted once finished has settled its dependents already (its ack or the trigger of 0009).
-- Runs with search_path set to the target schema.
CREATE OR REPLACE FUNCTION settle_failed_dependency() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
  v_dependents bigint[] := CASE WHEN TG_OP = 'DELETE' THEN OLD.dependents ELSE NEW.dependents END;
  v_woken text[];
BEGIN
  WITH settled AS (
    UPDATE jobs d SET
      state = CASE
        WHEN d.dependency_policy = 'cancel' THEN 'cancelled'::job_state
        WHEN d.waiting_on <= 1 THEN 'available'::job_state ELSE d.state END,
      cancelled_at = CASE WHEN d.dependency_policy = 'cancel' THEN now() ELSE d.cancelled_at END,
      waiting_on = CASE WHEN d.dependency_policy = 'cancel' THEN 0 ELSE d.waiting_on - 1 END,
      scheduled_at = CASE
        WHEN d.dependency_policy <> 'cancel' AND d.waiting_on <= 1 THEN now() ELSE d.scheduled_at END
    WHERE d.id = ANY(v_dependents) AND d.state = 'scheduled' AND d.waiting_on > 0
    RETURNING d.queue, d.state
  )
  SELECT array_agg(DISTINCT queue) FILTER (WHERE state = 'available') INTO v_woken FROM settled;
  IF v_woken IS NOT NULL THEN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_jobs', q) FROM unnest(v_woken) AS q;
  END IF;
  -- As a BEFORE trigger (the partitioned layout, docs/scaling.md) the row's own change goes on.
  IF TG_WHEN = 'BEFORE' THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_settle_deleted_dependency
  AFTER DELETE ON jobs
  FOR EACH ROW
  WHEN (OLD.dependents IS NOT NULL
    AND OLD.state NOT IN ('completed', 'discarded', 'cancelled'))
  EXECUTE FUNCTION settle_failed_dependency();
