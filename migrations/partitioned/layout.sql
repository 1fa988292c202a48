-- Partitioned layout of docket.jobs (prototype, applied by src/db/partitioned-layout.ts). Runs
-- with search_path set to the schema, on a schema migrated through 0010 whose jobs table is empty.
-- See docs/scaling.md.
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM jobs LIMIT 1) THEN
    RAISE EXCEPTION 'jobs is not empty: use the online path (docs/scaling.md)';
  END IF;
END $$;

-- flow_claim returns SETOF jobs: its return type is bound to the plain table's row type.
DROP FUNCTION flow_claim(text, integer, text);
ALTER TABLE jobs RENAME TO jobs_plain;

CREATE TABLE jobs (LIKE jobs_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)
  PARTITION BY LIST (state);
DROP TABLE jobs_plain;

-- Live states: one plain partition, where claims, staging and rescue work.
CREATE TABLE jobs_live PARTITION OF jobs FOR VALUES IN ('available', 'scheduled', 'executing', 'retryable')
  WITH (fillfactor = 90);
-- Finished states: one range-partitioned table each, by that state's own timestamp, one
-- partition per UTC day; the default partition takes a null timestamp or a day not created yet.
CREATE TABLE jobs_completed PARTITION OF jobs FOR VALUES IN ('completed') PARTITION BY RANGE (completed_at);
CREATE TABLE jobs_discarded PARTITION OF jobs FOR VALUES IN ('discarded') PARTITION BY RANGE (discarded_at);
CREATE TABLE jobs_cancelled PARTITION OF jobs FOR VALUES IN ('cancelled') PARTITION BY RANGE (cancelled_at);
CREATE TABLE jobs_completed_default PARTITION OF jobs_completed DEFAULT;
CREATE TABLE jobs_discarded_default PARTITION OF jobs_discarded DEFAULT;
CREATE TABLE jobs_cancelled_default PARTITION OF jobs_cancelled DEFAULT;

-- A unique index must hold every partition key of every level: (id) alone cannot be one on the
-- root. Each leaf gets its own (partitioned index over all leaves, not unique); ids are unique by
-- the identity (GENERATED ALWAYS).
CREATE INDEX jobs_id_idx ON jobs (id);
-- The jobs that hold a unique key, so that dropping a partition finds their keys by index.
CREATE INDEX jobs_unique_job_idx ON jobs (id) WHERE unique_key IS NOT NULL;
-- The live indexes, on the live partition only.
CREATE INDEX jobs_fetch_idx ON jobs_live (queue, priority, scheduled_at, id) WHERE state = 'available';
CREATE INDEX jobs_stage_idx ON jobs_live (scheduled_at, id) WHERE state IN ('scheduled', 'retryable');
CREATE INDEX jobs_executing_idx ON jobs_live (attempted_at, id) WHERE state = 'executing';
CREATE INDEX jobs_flow_executing_idx ON jobs_live (queue, partition_key)
  WHERE state = 'executing' AND partition_key IS NOT NULL;
CREATE INDEX jobs_flow_fetch_idx ON jobs_live (queue, partition_key, priority, scheduled_at, id)
  WHERE state = 'available' AND partition_key IS NOT NULL;
-- Finished jobs: listings by time (the range key leads), what the prune indexes gave.
CREATE INDEX jobs_completed_at_idx ON jobs_completed (completed_at, id);
CREATE INDEX jobs_discarded_at_idx ON jobs_discarded (discarded_at, id);
CREATE INDEX jobs_cancelled_at_idx ON jobs_cancelled (cancelled_at, id);

-- Unique jobs: the keys live in a side table, one row per key held by a job in a blocking state,
-- whatever partition the job is in (see docs/scaling.md).
CREATE TABLE job_unique_keys (
  unique_key bytea PRIMARY KEY,
  job_id bigint NOT NULL
);
CREATE INDEX job_unique_keys_job_idx ON job_unique_keys (job_id);

-- The triggers of 0009 and 0010. An UPDATE that moves a row to another partition (every move into
-- or out of a finished state) runs as a DELETE from the old partition and an INSERT into the new
-- one: AFTER UPDATE row triggers do not fire for it, AFTER DELETE ones do (measured on PG 15, see
-- docs/scaling.md). BEFORE UPDATE row triggers fire on the old partition with OLD and NEW, so the
-- two state triggers run BEFORE here, through functions that return NEW (a BEFORE trigger that
-- returns null skips the row's update; settle_failed_dependency, since 0011, returns NEW then).
-- An AFTER DELETE trigger cannot tell a move from a delete: the batch count and the dependents of
-- a deleted unfinished job are the deleting statement's to do (not built yet).
CREATE FUNCTION count_batch_outcome_before() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM record_batch_outcomes(NEW.batch_id,
    CASE WHEN OLD.state = 'completed' THEN -1 ELSE 0 END,
    (CASE WHEN NEW.state = 'discarded' THEN 1 ELSE 0 END) - (CASE WHEN OLD.state = 'discarded' THEN 1 ELSE 0 END),
    (CASE WHEN NEW.state = 'cancelled' THEN 1 ELSE 0 END) - (CASE WHEN OLD.state = 'cancelled' THEN 1 ELSE 0 END));
  RETURN NEW;
END $$;

CREATE TRIGGER jobs_settle_failed_dependency
  BEFORE UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.dependents IS NOT NULL AND NEW.state IN ('discarded', 'cancelled')
    AND OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION settle_failed_dependency();
CREATE TRIGGER jobs_count_batch_outcome
  BEFORE UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.batch_id IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state AND NEW.state <> 'completed'
    AND (NEW.state IN ('discarded', 'cancelled') OR OLD.state IN ('completed', 'discarded', 'cancelled')))
  EXECUTE FUNCTION count_batch_outcome_before();

-- Day partitions: creates the missing ones of each finished state from p_from for p_days days.
-- Names are jobs_<state>_YYYYMMDD. Returns how many it created.
CREATE FUNCTION jobs_create_day_partitions(p_from date, p_days integer) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_state text;
  v_day date;
  v_made integer := 0;
BEGIN
  FOREACH v_state IN ARRAY ARRAY['completed', 'discarded', 'cancelled'] LOOP
    FOR i IN 0 .. least(p_days, 366) - 1 LOOP
      v_day := p_from + i;
      IF to_regclass(format('%I', 'jobs_' || v_state || '_' || to_char(v_day, 'YYYYMMDD'))) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
          'jobs_' || v_state || '_' || to_char(v_day, 'YYYYMMDD'), 'jobs_' || v_state,
          v_day::timestamp AT TIME ZONE 'UTC', (v_day + 1)::timestamp AT TIME ZONE 'UTC');
        v_made := v_made + 1;
      END IF;
    END LOOP;
  END LOOP;
  RETURN v_made;
END $$;

-- Detaches the day partitions of p_state that end at or before p_before (UTC), after removing the
-- unique keys their jobs hold, and returns their names: the caller drops each one in a statement
-- of its own, so that the parent's lock is held for the detach only (1.4 ms), not for the unlink
-- of the files (60 ms for 750,000 jobs), which happens at commit (docs/scaling.md).
CREATE FUNCTION jobs_detach_day_partitions(p_state job_state, p_before timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_part record;
BEGIN
  IF p_state NOT IN ('completed', 'discarded', 'cancelled') THEN
    RAISE EXCEPTION 'state % is not a finished state', p_state;
  END IF;
  FOR v_part IN
    SELECT c.oid::regclass AS rel, c.relname::text AS name
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = format('%I', 'jobs_' || p_state)::regclass
      AND c.relname ~ '^jobs_[a-z]+_[0-9]{8}$'
      AND (to_date(right(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= p_before
    ORDER BY c.relname
  LOOP
    EXECUTE format('DELETE FROM job_unique_keys k USING %s p WHERE p.unique_key IS NOT NULL AND k.job_id = p.id', v_part.rel);
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %s', 'jobs_' || p_state, v_part.rel);
    RETURN NEXT v_part.name;
  END LOOP;
END $$;

SELECT jobs_create_day_partitions((now() AT TIME ZONE 'UTC')::date - 1, 4);
