-- Back to the bodies of 0010 and 0011.
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

CREATE OR REPLACE FUNCTION count_batch_outcome() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
  v_completed integer := 0;
  v_discarded integer := 0;
  v_cancelled integer := 0;
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- An unfinished job deleted (admin delete) will never run: it counts as cancelled.
    PERFORM record_batch_outcomes(OLD.batch_id, 0, 0, 1);
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
  RETURN NULL;
END $$;

DROP FUNCTION IF EXISTS settle_dependents(bigint[]);
