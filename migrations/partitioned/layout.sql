-- Partitioned layout of docket.jobs (`partitioned: true`, applied by src/db/partitioned-layout.ts).
-- Runs with search_path set to the schema, on a schema migrated through the latest migration.
-- See docs/scaling.md.
-- The plain table has been set aside as jobs_legacy (migrations/partitioned/set-aside.sql): empty,
-- it is dropped after this script; with rows, they move over (src/db/partitioned-layout.ts).
CREATE TABLE jobs (LIKE jobs_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)
  PARTITION BY LIST (state);

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
-- whatever partition the job is in (see docs/scaling.md). The unique insert (sql/unique-jobs.ts)
-- takes the key first; the trigger below keeps the table right for every other change.
CREATE TABLE job_unique_keys (
  unique_key bytea PRIMARY KEY,
  job_id bigint NOT NULL
);
-- Whether the job a key row names no longer blocks (the table truncated, a trigger bypassed): the
-- unique insert takes such a key over. VOLATILE, so that under READ COMMITTED its query takes a
-- fresh snapshot: a concurrent inserter the insert waited for is seen with its job.
CREATE FUNCTION job_unique_key_free(p_job bigint, p_key bytea) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
BEGIN
  RETURN NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p_job AND j.unique_key = p_key
    AND job_state_in_bitmask(j.unique_states, j.state));
END $$;
-- The conflict lookups of a unique insert and the key cleanup of a dropped day.
CREATE INDEX jobs_unique_key_idx ON jobs (unique_key) WHERE unique_key IS NOT NULL;

-- Keeps job_unique_keys equal to the keys of the jobs in a blocking state. A row that moves to
-- another partition fires the DELETE and the INSERT branch (in either order) and no UPDATE one;
-- an update within a partition fires the UPDATE branch. Each branch is idempotent: a key is added
-- when the job blocks (a key held by another job raises unique_violation, as the plain table's
-- unique index does) and removed when the job no longer exists in a blocking state.
CREATE FUNCTION sync_unique_key() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
  v_holder bigint;
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.unique_key IS NOT NULL
      AND coalesce(job_state_in_bitmask(NEW.unique_states, NEW.state), false) THEN
    INSERT INTO job_unique_keys (unique_key, job_id) VALUES (NEW.unique_key, NEW.id)
      ON CONFLICT (unique_key) DO NOTHING;
    IF NOT FOUND THEN
      SELECT job_id INTO v_holder FROM job_unique_keys WHERE unique_key = NEW.unique_key;
      IF v_holder IS DISTINCT FROM NEW.id THEN
        RAISE unique_violation USING
          MESSAGE = format('duplicate key value violates unique constraint "jobs_unique_key_idx": job %s holds the key', v_holder),
          CONSTRAINT = 'jobs_unique_key_idx';
      END IF;
    END IF;
  ELSIF OLD.unique_key IS NOT NULL THEN
    DELETE FROM job_unique_keys k
    WHERE k.unique_key = OLD.unique_key AND k.job_id = OLD.id
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = OLD.id
        AND coalesce(job_state_in_bitmask(j.unique_states, j.state), false));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_unique_key_added
  AFTER INSERT ON jobs FOR EACH ROW
  WHEN (NEW.unique_key IS NOT NULL AND coalesce(job_state_in_bitmask(NEW.unique_states, NEW.state), false))
  EXECUTE FUNCTION sync_unique_key();
CREATE TRIGGER jobs_unique_key_changed
  AFTER UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.unique_key IS NOT NULL AND coalesce(job_state_in_bitmask(OLD.unique_states, OLD.state), false)
    IS DISTINCT FROM coalesce(job_state_in_bitmask(NEW.unique_states, NEW.state), false))
  EXECUTE FUNCTION sync_unique_key();
CREATE TRIGGER jobs_unique_key_removed
  AFTER DELETE ON jobs FOR EACH ROW
  WHEN (OLD.unique_key IS NOT NULL AND coalesce(job_state_in_bitmask(OLD.unique_states, OLD.state), false))
  EXECUTE FUNCTION sync_unique_key();

CREATE FUNCTION clear_unique_keys() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  TRUNCATE job_unique_keys;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_unique_keys_truncated
  AFTER TRUNCATE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION clear_unique_keys();

-- The triggers of 0009 to 0012. A moved row (every move into or out of a finished state) fires
-- no AFTER UPDATE row trigger, so the two state triggers run BEFORE UPDATE here, on the old
-- partition with OLD and NEW (their functions return NEW then). The delete triggers are the
-- plain table's: their functions tell a move from a delete (0012).
CREATE TRIGGER jobs_settle_failed_dependency
  BEFORE UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.dependents IS NOT NULL AND NEW.state IN ('discarded', 'cancelled')
    AND OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION settle_failed_dependency();
CREATE TRIGGER jobs_count_batch_outcome
  BEFORE UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.batch_id IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state AND NEW.state <> 'completed'
    AND (NEW.state IN ('discarded', 'cancelled') OR OLD.state IN ('completed', 'discarded', 'cancelled')))
  EXECUTE FUNCTION count_batch_outcome();
CREATE TRIGGER jobs_settle_deleted_dependency
  AFTER DELETE ON jobs FOR EACH ROW
  WHEN (OLD.dependents IS NOT NULL AND OLD.state NOT IN ('completed', 'discarded', 'cancelled'))
  EXECUTE FUNCTION settle_failed_dependency();
CREATE TRIGGER jobs_count_deleted_batch_job
  AFTER DELETE ON jobs FOR EACH ROW
  WHEN (OLD.batch_id IS NOT NULL AND OLD.state NOT IN ('completed', 'discarded', 'cancelled'))
  EXECUTE FUNCTION count_batch_outcome();

-- Day partitions are named jobs_<state>_YYYYMMDD and hold that UTC day of the state's own
-- timestamp. The leader creates each missing one in a transaction of its own (CREATE TABLE ...
-- PARTITION OF locks the state's table until commit, and acks that complete into it wait).
CREATE FUNCTION jobs_missing_day_partitions(p_from date, p_days integer)
RETURNS TABLE (state job_state, day date)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT s.state::job_state, d.day::date
  FROM unnest(ARRAY['completed', 'discarded', 'cancelled']) AS s(state),
    generate_series(p_from, p_from + least(greatest(p_days, 0), 366) - 1, interval '1 day') AS d(day)
  WHERE to_regclass(format('%I', 'jobs_' || s.state || '_' || to_char(d.day, 'YYYYMMDD'))) IS NULL
  ORDER BY d.day, s.state
$$;

-- Creates one day partition; false when it exists already (a concurrent creator) or when the
-- default partition holds jobs of that day (they stay there, and the pruner's DELETE reaches them).
-- SECURITY DEFINER (here and below): creating, detaching and dropping partitions takes the owner
-- of the tables, and a node's role need not own them (docs/security.md); these functions do
-- only that, on names they build themselves.
CREATE FUNCTION jobs_create_day_partition(p_state job_state, p_day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF p_state NOT IN ('completed', 'discarded', 'cancelled') THEN
    RAISE EXCEPTION 'state % is not a finished state', p_state;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
    'jobs_' || p_state || '_' || to_char(p_day, 'YYYYMMDD'), 'jobs_' || p_state,
    p_day::timestamp AT TIME ZONE 'UTC', (p_day + 1)::timestamp AT TIME ZONE 'UTC');
  RETURN true;
EXCEPTION WHEN duplicate_table OR check_violation THEN
  RETURN false;
END $$;

-- Detaches the day partitions of p_state that end at or before p_before (UTC), after removing the
-- unique keys their jobs hold, and returns their names: the caller drops each one in a statement
-- of its own, so that the parent's lock is held for the detach only (1.4 ms), not for the unlink
-- of the files (60 ms for 750,000 jobs), which happens at commit (docs/scaling.md).
CREATE FUNCTION jobs_detach_day_partitions(p_state job_state, p_before timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
    EXECUTE format('DELETE FROM job_unique_keys k USING %s p WHERE p.unique_key IS NOT NULL AND k.unique_key = p.unique_key AND k.job_id = p.id', v_part.rel);
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %s', 'jobs_' || p_state, v_part.rel);
    RETURN NEXT v_part.name;
  END LOOP;
END $$;

-- Drops a day partition that jobs_detach_day_partitions detached: only a table of this schema
-- named like one and attached to nothing.
CREATE FUNCTION jobs_drop_detached_partition(p_name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_rel regclass;
BEGIN
  IF p_name !~ '^jobs_(completed|discarded|cancelled)_[0-9]{8}$' THEN
    RAISE EXCEPTION 'not a day partition of jobs: %', p_name;
  END IF;
  v_rel := to_regclass(format('%I', p_name));
  IF v_rel IS NULL OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = v_rel) THEN
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE %s', v_rel);
  RETURN true;
END $$;

-- Yesterday to two days ahead; the leader keeps creating ahead (maintenance/partition-keeper.ts).
SELECT jobs_create_day_partition(m.state, m.day)
FROM jobs_missing_day_partitions((now() AT TIME ZONE 'UTC')::date - 1, 4) AS m;
