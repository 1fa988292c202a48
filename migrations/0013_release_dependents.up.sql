-- Releases the dependents of jobs that completed: one dependency fewer to wait for each time a
-- dependency is listed, and the last one makes them available. The ack statement calls it with
-- the dependents of the jobs it completed (sql/ack.ts). Runs with search_path set to the target
-- schema.
--
-- It is a function, VOLATILE, for its snapshot. A dependent may be linked (sql/jobs.ts
-- insertDependentBatch) while the ack of its dependency waits for that row's lock: the ack then
-- reads the row again and sees the new dependent in `dependents`, but its own snapshot, taken
-- before the insert committed, does not see the dependent's row, and an UPDATE of it in the same
-- statement finds nothing: the dependent waited for ever. A statement inside a VOLATILE function
-- takes a snapshot of its own, which sees it.
CREATE FUNCTION release_dependents(p_dependents bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT AS $$
DECLARE
  v_released integer;
  v_woken text[];
BEGIN
  WITH counts AS (
    SELECT u.id, count(*)::integer AS n FROM unnest(p_dependents) AS u(id) GROUP BY u.id
  ), released AS (
    UPDATE jobs d SET
      waiting_on = d.waiting_on - c.n,
      state = CASE WHEN d.waiting_on - c.n <= 0 THEN 'available'::job_state ELSE d.state END,
      scheduled_at = CASE WHEN d.waiting_on - c.n <= 0 THEN now() ELSE d.scheduled_at END
    FROM counts c
    WHERE d.id = c.id AND d.waiting_on > 0 AND d.state = 'scheduled'
    RETURNING d.queue, d.state
  )
  SELECT count(*)::integer, array_agg(DISTINCT queue) FILTER (WHERE state = 'available')
  INTO v_released, v_woken FROM released;
  IF v_woken IS NOT NULL THEN
    PERFORM pg_notify(current_schema() || '_jobs', q) FROM unnest(v_woken) AS q;
  END IF;
  RETURN v_released;
END $$;
