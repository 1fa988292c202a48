-- Job dependencies. Runs with search_path set to the target schema.
-- A job that waits for others is inserted `scheduled` at 'infinity' (the stager never makes it
-- due) with `waiting_on` = the number of its dependencies not yet finished. Each dependency lists
-- its dependents in `dependents`, on its own row: the ack that records its outcome holds that
-- row's lock, so it always sees every dependent linked before it (see sql/jobs.ts ackJobs) and
-- decrements their counters in the same statement; the last one makes the dependent available.
-- `dependency_policy` is 'cancel' (a cancelled or discarded dependency cancels the job) or 'run'.
ALTER TABLE jobs
  ADD COLUMN waiting_on integer,
  ADD COLUMN dependents bigint[],
  ADD COLUMN dependency_policy text,
  ADD CONSTRAINT jobs_dependency_policy CHECK (dependency_policy IN ('cancel', 'run'));

-- A dependency that fails (discarded or cancelled), by whatever path (the ack, an admin cancel,
-- the lifeline), settles its waiting dependents in the same transaction: under 'cancel' they are
-- cancelled, which fires this trigger again for their own dependents (so a whole chain is
-- settled, never left waiting); under 'run' they count it as finished, and the last one makes
-- them available. A completed dependency is counted by the ack statement itself (sql/jobs.ts).
-- Plain jobs have no dependents: the WHEN clause keeps the trigger from running for them.
CREATE FUNCTION settle_failed_dependency() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
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
    WHERE d.id = ANY(NEW.dependents) AND d.state = 'scheduled' AND d.waiting_on > 0
    RETURNING d.queue, d.state
  )
  SELECT array_agg(DISTINCT queue) FILTER (WHERE state = 'available') INTO v_woken FROM settled;
  IF v_woken IS NOT NULL THEN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_jobs', q) FROM unnest(v_woken) AS q;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_settle_failed_dependency
  AFTER UPDATE OF state ON jobs
  FOR EACH ROW
  WHEN (NEW.dependents IS NOT NULL AND NEW.state IN ('discarded', 'cancelled')
    AND OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION settle_failed_dependency();
