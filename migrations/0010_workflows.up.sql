-- Workflows: a dependent reads its dependencies, and batches with a callback. Runs with
-- search_path set to the target schema.
-- `depends_on` lists, on the dependent's own row, the jobs it waits for (in the order given), so
-- that `perform` reads their results with one query. `batch_id` ties a job to its batch.
ALTER TABLE jobs
  ADD COLUMN depends_on bigint[],
  ADD COLUMN batch_id bigint;

-- One row per batch whose callback is still to come or whose jobs have not all finished. The
-- callback is the job to insert (its `args` get a `batch` key with the counts). `remaining` is
-- the number of the batch's jobs not finished yet; `callback_id` is set by the statement that
-- inserts the callback, under this row's lock, so it is inserted once. The row is deleted when
-- its last job finishes: batches never pile up.
CREATE TABLE batches (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  total integer NOT NULL,
  remaining integer NOT NULL,
  completed integer NOT NULL DEFAULT 0,
  discarded integer NOT NULL DEFAULT 0,
  cancelled integer NOT NULL DEFAULT 0,
  callback_on text NOT NULL CONSTRAINT batches_callback_on CHECK (callback_on IN ('finished', 'discarded')),
  callback jsonb NOT NULL,
  callback_id bigint,
  inserted_at timestamptz NOT NULL DEFAULT now()
);

-- Counts outcomes of a batch's jobs (negative counts give back a job that left a final state),
-- and inserts the callback when the last job finished, or at the first discard under
-- callback_on = 'discarded'. Every caller holds the batch row's lock from its UPDATE to its
-- commit, so two transactions never both see the batch finish.
CREATE FUNCTION record_batch_outcomes(p_batch bigint, p_completed integer, p_discarded integer,
  p_cancelled integer) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
  b batches%ROWTYPE;
  v_callback bigint;
  v_flow jsonb;
  v_args jsonb;
BEGIN
  UPDATE batches SET
    remaining = remaining - p_completed - p_discarded - p_cancelled,
    completed = completed + p_completed,
    discarded = discarded + p_discarded,
    cancelled = cancelled + p_cancelled
  WHERE id = p_batch
  RETURNING * INTO b;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF b.callback_id IS NULL AND (b.remaining <= 0 OR (b.callback_on = 'discarded' AND b.discarded > 0)) THEN
    v_args := coalesce(b.callback->'args', '{}'::jsonb) || jsonb_build_object('batch', jsonb_build_object(
      'id', b.id::text, 'total', b.total, 'completed', b.completed, 'discarded', b.discarded,
      'cancelled', b.cancelled, 'pending', greatest(b.remaining, 0)));
    SELECT flow INTO v_flow FROM queues WHERE name = b.callback->>'queue' AND flow IS NOT NULL;
    INSERT INTO jobs (state, queue, worker, args, meta, tags, priority, max_attempts, scheduled_at,
      partition_key)
    VALUES ('available', b.callback->>'queue', b.callback->>'worker', v_args,
      coalesce(b.callback->'meta', '{}'::jsonb),
      ARRAY(SELECT jsonb_array_elements_text(coalesce(b.callback->'tags', '[]'::jsonb))),
      (b.callback->>'priority')::smallint, (b.callback->>'max_attempts')::integer, now(),
      CASE WHEN v_flow IS NOT NULL THEN flow_partition_key(v_flow->'by', b.callback->>'worker', v_args) END)
    RETURNING id INTO v_callback;
    UPDATE batches SET callback_id = v_callback WHERE id = p_batch;
    PERFORM pg_notify(current_schema() || '_jobs', b.callback->>'queue');
  END IF;
  IF b.remaining <= 0 THEN
    DELETE FROM batches WHERE id = p_batch;
  END IF;
  RETURN v_callback;
END $$;

-- Outcomes of batch jobs by any path but the ack's completion (which the ack statement counts
-- itself, once per batch and statement, see sql/jobs.ts ackJobs): a discard or cancel (the ack,
-- an admin cancel, the lifeline, a failed dependency), or a retry that takes a finished job back.
-- Plain jobs have no batch: the WHEN clause keeps the trigger from running for them.
CREATE FUNCTION count_batch_outcome() RETURNS trigger
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

CREATE TRIGGER jobs_count_batch_outcome
  AFTER UPDATE OF state ON jobs
  FOR EACH ROW
  WHEN (NEW.batch_id IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state AND NEW.state <> 'completed'
    AND (NEW.state IN ('discarded', 'cancelled') OR OLD.state IN ('completed', 'discarded', 'cancelled')))
  EXECUTE FUNCTION count_batch_outcome();

CREATE TRIGGER jobs_count_deleted_batch_job
  AFTER DELETE ON jobs
  FOR EACH ROW
  WHEN (OLD.batch_id IS NOT NULL AND OLD.state NOT IN ('completed', 'discarded', 'cancelled'))
  EXECUTE FUNCTION count_batch_outcome();
