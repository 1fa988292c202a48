-- Flow control: global limits, rate limits and per-key (partition) limits of a queue, enforced
-- where jobs are claimed. Runs with search_path set to the target schema.

-- The limits in force for the whole cluster, as a JSON document (null: the queue is unlimited
-- and claims as before):
--   {"globalLimit": 3, "rateLimit": {"allowed": 100, "periodMs": 60000, "partitioned": false},
--    "partition": {"limit": 1}, "by": {"worker": true, "args": ["accountId"]}}
-- `flow_override` is set by a runtime change (limitQueue), which a node's configured limits do
-- not overwrite at start. `flow_cursor` is the partition key where the last claim stopped, so that
-- the next one starts after it (round robin across keys).
ALTER TABLE queues
  ADD COLUMN flow jsonb,
  ADD COLUMN flow_override boolean NOT NULL DEFAULT false,
  ADD COLUMN flow_changed_at timestamptz,
  ADD COLUMN flow_cursor text,
  ADD CONSTRAINT queues_flow_object CHECK (flow IS NULL OR jsonb_typeof(flow) = 'object');

-- The partition key of a job of a limited queue: '' when the queue has no partition, else the
-- JSON array of the worker and the listed top-level args values. Null on jobs of unlimited
-- queues, which therefore take no entry in the indexes below.
ALTER TABLE jobs ADD COLUMN partition_key text;

-- What a job's partition key is under the key definition `by` (see queues.flow).
CREATE FUNCTION flow_partition_key(by jsonb, worker text, args jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN by IS NULL OR jsonb_typeof(by) <> 'object' THEN '' ELSE (
    CASE WHEN by->'worker' = 'true'::jsonb THEN jsonb_build_array(worker) ELSE '[]'::jsonb END
    || coalesce((
      SELECT jsonb_agg(coalesce(args -> f.name, 'null'::jsonb) ORDER BY f.ord)
      FROM jsonb_array_elements_text(coalesce(by->'args', '[]'::jsonb)) WITH ORDINALITY AS f(name, ord)
    ), '[]'::jsonb)
  )::text END
$$;

-- Counting what a limited queue (or one of its keys) runs now.
CREATE INDEX jobs_flow_executing_idx ON jobs (queue, partition_key)
  WHERE state = 'executing' AND partition_key IS NOT NULL;

-- The keys of a partitioned queue that have jobs waiting, and each key's next jobs.
CREATE INDEX jobs_flow_fetch_idx ON jobs (queue, partition_key, priority, scheduled_at, id)
  WHERE state = 'available' AND partition_key IS NOT NULL;

-- Job starts per queue (key '') or per partition key in the current fixed window.
CREATE TABLE flow_rates (
  queue text NOT NULL,
  key text NOT NULL,
  window_start timestamptz NOT NULL,
  count integer NOT NULL,
  PRIMARY KEY (queue, key)
);

-- Sets the limits of a queue and re-keys its unfinished jobs when the key definition changed.
-- `p_configured` is a node's configuration at start: it leaves a runtime override in place.
-- Returns the row as stored. Serialised with the claims of the queue by the same lock.
CREATE FUNCTION flow_configure(p_queue text, p_flow jsonb, p_override boolean, p_configured boolean)
RETURNS SETOF queues
LANGUAGE plpgsql
VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
  old queues;
  stored queues;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('docket.flow'), hashtext(p_queue));
  INSERT INTO queues (name) VALUES (p_queue) ON CONFLICT (name) DO NOTHING;
  SELECT * INTO old FROM queues WHERE name = p_queue FOR UPDATE;
  IF p_configured AND old.flow_override THEN
    RETURN NEXT old;
    RETURN;
  END IF;
  IF p_configured AND old.flow IS NOT DISTINCT FROM p_flow THEN
    RETURN NEXT old;
    RETURN;
  END IF;
  UPDATE queues SET flow = p_flow, flow_override = p_override, flow_changed_at = now(),
    flow_cursor = NULL, updated_at = now()
  WHERE name = p_queue
  RETURNING * INTO stored;
  IF (old.flow IS NULL) <> (p_flow IS NULL) OR (old.flow->'by') IS DISTINCT FROM (p_flow->'by') THEN
    UPDATE jobs SET partition_key =
      CASE WHEN p_flow IS NULL THEN NULL ELSE flow_partition_key(p_flow->'by', worker, args) END
    WHERE queue = p_queue AND state IN ('available', 'scheduled', 'retryable', 'executing');
  END IF;
  IF p_flow IS NULL OR p_flow->'rateLimit' IS NULL THEN
    DELETE FROM flow_rates WHERE queue = p_queue;
  END IF;
  RETURN NEXT stored;
END
$$;

-- Claims up to p_count available jobs of p_queue for p_node within the queue's limits. Limited
-- claims of one queue take turns on a transaction-level advisory lock, and each statement below
-- reads a fresh snapshot (a VOLATILE function in READ COMMITTED), so each claim counts the jobs
-- that the claim before it committed. An unlimited queue claims as fetchJobs does.
CREATE FUNCTION flow_claim(p_queue text, p_count integer, p_node text)
RETURNS SETOF jobs
LANGUAGE plpgsql
VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
  f jsonb;
  v_cursor text;
  v_changed timestamptz;
  n integer := p_count;
  v_global integer;
  v_plimit integer;
  v_allowed integer;
  v_period double precision;
  v_rate_keyed boolean;
  v_by jsonb;
  v_window timestamptz;
  v_used integer;
  v_width integer;
  v_keys text[];
  v_ids bigint[];
  v_last text;
  v_now timestamptz;
BEGIN
  -- The lock is held until commit: release it once the commit is written, not flushed (a
  -- server crash may undo the last moments of claims, whose jobs then run again).
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(hashtext('docket.flow'), hashtext(p_queue));
  -- The time of this claim, read once the lock is held (now() is when the transaction began,
  -- possibly before a claim that took the lock first): claims of a queue get increasing times,
  -- so a rate window never goes back.
  v_now := clock_timestamp();
  SELECT q.flow, q.flow_cursor, q.flow_changed_at INTO f, v_cursor, v_changed
  FROM queues q WHERE q.name = p_queue;
  IF f IS NULL THEN
    v_ids := ARRAY(
      SELECT j.id FROM jobs j WHERE j.state = 'available' AND j.queue = p_queue
      ORDER BY j.priority, j.scheduled_at, j.id LIMIT n FOR UPDATE SKIP LOCKED);
  ELSE
    v_global := (f->>'globalLimit')::integer;
    v_plimit := (f #>> '{partition,limit}')::integer;
    v_allowed := (f #>> '{rateLimit,allowed}')::integer;
    v_period := (f #>> '{rateLimit,periodMs}')::double precision;
    v_rate_keyed := coalesce((f #>> '{rateLimit,partitioned}')::boolean, false);
    v_by := f->'by';
    IF v_global IS NOT NULL THEN
      SELECT count(*) INTO v_used FROM jobs j
      WHERE j.state = 'executing' AND j.queue = p_queue AND j.partition_key IS NOT NULL;
      n := least(n, v_global - v_used);
    END IF;
    IF v_allowed IS NOT NULL THEN
      -- Fixed windows aligned on the epoch, by the database's clock: every node agrees.
      v_window := to_timestamp(floor(extract(epoch FROM v_now) * 1000 / v_period) * v_period / 1000);
      IF NOT v_rate_keyed THEN
        SELECT r.count INTO v_used FROM flow_rates r
        WHERE r.queue = p_queue AND r.key = '' AND r.window_start = v_window;
        n := least(n, v_allowed - coalesce(v_used, 0));
      ELSIF random() < 0.02 THEN
        DELETE FROM flow_rates r WHERE r.queue = p_queue AND r.window_start < v_window;
      END IF;
    END IF;
    IF n <= 0 THEN
      RETURN;
    END IF;
    IF v_plimit IS NULL AND NOT v_rate_keyed THEN
      v_ids := ARRAY(
        SELECT j.id FROM jobs j WHERE j.state = 'available' AND j.queue = p_queue
        ORDER BY j.priority, j.scheduled_at, j.id LIMIT n FOR UPDATE SKIP LOCKED);
    ELSE
      -- Jobs without a key (inserted in a transaction that began before the queue got its
      -- partition, or while it changed) would never be seen below: key them, now and then.
      IF v_changed > now() - interval '10 seconds' OR random() < 0.01 THEN
        UPDATE jobs j SET partition_key = flow_partition_key(v_by, j.worker, j.args)
        WHERE j.state = 'available' AND j.queue = p_queue AND j.partition_key IS NULL;
      END IF;
      -- Up to v_width keys with jobs waiting, in key order from the cursor on, wrapping around:
      -- a loose index scan of jobs_flow_fetch_idx, one probe per key.
      v_width := least(1000, greatest(64, n * 4));
      v_keys := ARRAY(
        WITH RECURSIVE k(key) AS (
          (SELECT j.partition_key FROM jobs j
           WHERE j.state = 'available' AND j.queue = p_queue AND j.partition_key IS NOT NULL
             AND j.partition_key > coalesce(v_cursor, '')
           ORDER BY j.partition_key LIMIT 1)
          UNION ALL
          SELECT (SELECT j.partition_key FROM jobs j
                  WHERE j.state = 'available' AND j.queue = p_queue AND j.partition_key IS NOT NULL
                    AND j.partition_key > k.key
                  ORDER BY j.partition_key LIMIT 1)
          FROM k WHERE k.key IS NOT NULL
        )
        SELECT k.key FROM k WHERE k.key IS NOT NULL LIMIT v_width);
      IF cardinality(v_keys) < v_width AND v_cursor IS NOT NULL THEN
        v_keys := v_keys || ARRAY(
          WITH RECURSIVE k(key) AS (
            (SELECT j.partition_key FROM jobs j
             WHERE j.state = 'available' AND j.queue = p_queue AND j.partition_key IS NOT NULL
               AND j.partition_key <= v_cursor
             ORDER BY j.partition_key LIMIT 1)
            UNION ALL
            SELECT (SELECT j.partition_key FROM jobs j
                    WHERE j.state = 'available' AND j.queue = p_queue AND j.partition_key IS NOT NULL
                      AND j.partition_key > k.key AND j.partition_key <= v_cursor
                    ORDER BY j.partition_key LIMIT 1)
            FROM k WHERE k.key IS NOT NULL
          )
          SELECT k.key FROM k WHERE k.key IS NOT NULL LIMIT v_width - cardinality(v_keys));
      END IF;
      IF cardinality(v_keys) = 0 THEN
        RETURN;
      END IF;
      -- Each key's room (its partition limit less what it runs, its rate less what it started
      -- in this window), then its next jobs; taken round by round: every key's first job, then
      -- every key's second, and so on, so that a key with many jobs does not starve the others.
      WITH keys AS (
        SELECT u.key, u.ord FROM unnest(v_keys) WITH ORDINALITY AS u(key, ord)
      ), running AS (
        SELECT j.partition_key AS key, count(*)::integer AS count FROM jobs j
        WHERE j.state = 'executing' AND j.queue = p_queue AND j.partition_key = ANY(v_keys)
        GROUP BY j.partition_key
      ), room AS (
        SELECT keys.key, keys.ord, least(n,
          CASE WHEN v_plimit IS NULL THEN n ELSE v_plimit - coalesce(running.count, 0) END,
          CASE WHEN v_rate_keyed THEN v_allowed - coalesce(r.count, 0) ELSE n END) AS room
        FROM keys
        LEFT JOIN running ON running.key = keys.key
        LEFT JOIN flow_rates r ON r.queue = p_queue AND r.key = keys.key AND r.window_start = v_window
      ), picked AS (
        SELECT room.key, room.ord, next.id, next.round FROM room
        CROSS JOIN LATERAL (
          SELECT j.id, row_number() OVER (ORDER BY j.priority, j.scheduled_at, j.id) AS round
          FROM jobs j
          WHERE j.state = 'available' AND j.queue = p_queue AND j.partition_key = room.key
          ORDER BY j.priority, j.scheduled_at, j.id
          LIMIT room.room
        ) AS next
        WHERE room.room > 0
        ORDER BY next.round, room.ord
        LIMIT n
      )
      SELECT array_agg(picked.id), (array_agg(picked.key ORDER BY picked.round DESC, picked.ord DESC))[1]
      INTO v_ids, v_last FROM picked;
      UPDATE queues SET flow_cursor = coalesce(v_last, v_keys[cardinality(v_keys)])
      WHERE name = p_queue;
    END IF;
  END IF;
  IF v_ids IS NULL OR cardinality(v_ids) = 0 THEN
    RETURN;
  END IF;
  -- The lock orders limited claims among themselves; the state is checked again on each row,
  -- so a job cancelled or taken meanwhile is skipped.
  RETURN QUERY
  WITH claimed AS (
    UPDATE jobs j SET state = 'executing', attempt = j.attempt + 1, attempted_at = coalesce(v_now, now()),
      attempted_by = p_node,
      partition_key = CASE WHEN f IS NULL THEN j.partition_key
        ELSE coalesce(j.partition_key, flow_partition_key(v_by, j.worker, j.args)) END
    WHERE j.id = ANY(v_ids) AND j.state = 'available'
    RETURNING j.*
  ), counted AS (
    INSERT INTO flow_rates AS r (queue, key, window_start, count)
    SELECT p_queue, CASE WHEN v_rate_keyed THEN c.partition_key ELSE '' END, v_window, count(*)::integer
    FROM claimed c WHERE v_allowed IS NOT NULL
    GROUP BY 2
    ON CONFLICT (queue, key) DO UPDATE SET
      count = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.count + EXCLUDED.count
        WHEN r.window_start > EXCLUDED.window_start THEN r.count
        ELSE EXCLUDED.count END,
      window_start = greatest(r.window_start, EXCLUDED.window_start)
  )
  SELECT * FROM claimed;
END
$$;
