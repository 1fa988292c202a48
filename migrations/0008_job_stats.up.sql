-- History of finished jobs, rolled up per minute by the leader (maintenance/stats-rollup.ts), so
-- that charts and `queue.stats()` work from any process. Runs with search_path set to the schema.

-- One row per minute, queue, worker and outcome (completed, discarded, cancelled): how many jobs
-- finished that way in that minute, and their execution time (attempted_at to the end) and wait
-- (scheduled_at to attempted_at) in milliseconds. Cancelled jobs that never ran have no times.
CREATE TABLE job_stats (
  minute timestamptz NOT NULL,
  queue text NOT NULL,
  worker text NOT NULL,
  outcome text NOT NULL,
  count bigint NOT NULL,
  exec_p50_ms double precision,
  exec_p95_ms double precision,
  exec_max_ms double precision,
  wait_p50_ms double precision,
  wait_p95_ms double precision,
  wait_max_ms double precision,
  PRIMARY KEY (minute, queue, worker, outcome)
);

-- The watermark: every minute before `rolled_through` is in job_stats. One row; a leader moves it
-- in the statement that writes the minutes, so a run repeated after a leader change is harmless.
CREATE TABLE job_stats_rollup (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  rolled_through timestamptz NOT NULL
);
INSERT INTO job_stats_rollup (rolled_through) VALUES (date_trunc('minute', now()));
