-- Unique jobs and the runtime state of queues.
-- Runs with search_path set to the target schema, so names are unqualified here.

-- A unique job carries a key computed at insert (a hash of the fields that make it distinct and,
-- with a period, of the time bucket) and the set of states in which it blocks its duplicates, as
-- a bitmask: bit 0 available, 1 scheduled, 2 executing, 3 retryable, 4 completed, 5 discarded,
-- 6 cancelled (bit 0 is the leftmost, as get_bit counts). Both are null on ordinary jobs.
ALTER TABLE jobs
  ADD COLUMN unique_key bytea,
  ADD COLUMN unique_states bit(8);

-- Whether a job in `state` blocks its duplicates. IMMUTABLE, so that a partial index may use it:
-- the answer depends on its arguments only.
CREATE FUNCTION job_state_in_bitmask(bitmask bit(8), state job_state)
RETURNS boolean
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT get_bit(bitmask, CASE state
    WHEN 'available' THEN 0
    WHEN 'scheduled' THEN 1
    WHEN 'executing' THEN 2
    WHEN 'retryable' THEN 3
    WHEN 'completed' THEN 4
    WHEN 'discarded' THEN 5
    WHEN 'cancelled' THEN 6
  END) = 1
$$;

-- At most one job per key among the jobs in a blocking state. Concurrent inserts of one key wait
-- on each other here, so exactly one of them wins whatever the isolation level; a job that moves
-- to a state outside its set leaves the index and stops blocking.
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
  WHERE unique_key IS NOT NULL AND job_state_in_bitmask(unique_states, state);

-- Queues as the whole cluster sees them: paused or not, and a concurrency that overrides each
-- node's configured limit (null: each node keeps its own). Nodes read it at start and follow
-- changes through NOTIFY on the control channel.
CREATE TABLE queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  concurrency integer,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT queues_name_length CHECK (char_length(name) BETWEEN 1 AND 128),
  CONSTRAINT queues_concurrency_range CHECK (concurrency IS NULL OR concurrency BETWEEN 1 AND 10000)
);
