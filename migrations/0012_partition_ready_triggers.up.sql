-- Trigger functions that both layouts share (docs/scaling.md, "Partitioned mode"). Runs with
-- search_path set to the target schema.
--
-- On a partitioned jobs table an UPDATE that moves a row to another partition runs as a DELETE
-- and an INSERT: the row's AFTER DELETE triggers fire although the job still exists. The delete
-- triggers of 0010 and 0011 therefore look the job up and do nothing when it is still there; on
-- the plain table the lookup is one primary-key probe, for deleted dependencies and batch jobs
-- only. The state triggers run AFTER UPDATE on the plain table and BEFORE UPDATE on the
-- partitioned one (a moved row fires no AFTER UPDATE trigger); the functions return NEW then.

-- Settles the waiting dependents of a dependency that failed or was deleted unfinished: under
-- 'cancel' they are cancelled (which fires the state trigger again for their own dependents),
-- under 'run' they count it as finished and the last one makes them available.
CREATE FUNCTION settle_dependents(p_dependents bigint[]) RETURNS void
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
    WHERE d.id = ANY(p_dependents) AND d.state = 'scheduled' AND d.waiting_on > 0
    RETURNING d.queue, d.state
  )
  SELECT array_agg(DISTINCT queue) FILTER (WHERE state = 'available') INTO v_woken FROM settled;
  IF v_woken IS NOT NULL THEN
    PERFORM pg_notify(current_schema() || '_jobs', q) FROM unnest(v_woken) AS q;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION settle_failed_dependency() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- A row moved to another partition is still a job: only a real delete settles.
    IF NOT EXISTS (SELECT 1 FROM jobs WHERE id = OLD.id) THEN
      PERFORM settle_dependents(OLD.dependents);
    END IF;
    RETURN NULL;
  END IF;
  PERFORM settle_dependents(NEW.dependents);
  IF TG_WHEN = 'BEFORE' THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION count_batch_outcome() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
  v_completed integer := 0;
  v_discarded integer := 0;
  v_cancelled integer := 0;
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- An unfinished job deleted (admin delete) will never run: it counts as cancelled. A row
    -- moved to another partition is still a job.
    IF NOT EXISTS (SELECT 1 FROM jobs WHERE id = OLD.id) THEN
      PERFORM record_batch_outcomes(OLD.batch_id, 0, 0, 1);
    END IF;
    RETURN NULL;
  END IF;
  CASE OLD.state
    WHEN 'completed' THEN v_completed := -1;
    WHEN 'discarded' THEN v_discarded := -1;
    WHEN 'cancelled' THEN v_cancelled := -1;
    ELSE NULL;
  END CASE;
  CASE NEW.state
    WHEN 'discarded' THEN v_discarded := v_discarded + 1;
    WHEN 'cancelled' THEN v_cancelled := v_cancelled + 1;
    ELSE NULL;
  END CASE;
  PERFORM record_batch_outcomes(NEW.batch_id, v_completed, v_discarded, v_cancelled);
  IF TG_WHEN = 'BEFORE' THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END $$;
