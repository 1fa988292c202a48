-- The jobs table and the indexes that fetching, staging, rescue and pruning rely on.
-- Runs with search_path set to the target schema, so names are unqualified here.

CREATE TYPE job_state AS ENUM (
  'available',
  'scheduled',
  'executing',
  'retryable',
  'completed',
  'discarded',
  'cancelled'
);

CREATE TABLE jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  state job_state NOT NULL DEFAULT 'available',
  queue text NOT NULL,
  worker text NOT NULL,
  args jsonb NOT NULL DEFAULT '{}'::jsonb,
  meta jsonb NOT NULL DEFAULT '{}'::jsonb,
  tags text[] NOT NULL DEFAULT '{}',
  errors jsonb NOT NULL DEFAULT '[]'::jsonb,
  attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 20,
  priority smallint NOT NULL DEFAULT 0,
  inserted_at timestamptz NOT NULL DEFAULT now(),
  scheduled_at timestamptz NOT NULL DEFAULT now(),
  attempted_at timestamptz,
  completed_at timestamptz,
  cancelled_at timestamptz,
  discarded_at timestamptz,
  attempted_by text,
  CONSTRAINT jobs_queue_length CHECK (char_length(queue) BETWEEN 1 AND 128),
  CONSTRAINT jobs_worker_length CHECK (char_length(worker) BETWEEN 1 AND 128),
  CONSTRAINT jobs_priority_range CHECK (priority BETWEEN 0 AND 9),
  CONSTRAINT jobs_max_attempts_positive CHECK (max_attempts > 0),
  CONSTRAINT jobs_attempt_range CHECK (attempt >= 0 AND attempt <= max_attempts),
  CONSTRAINT jobs_args_object CHECK (jsonb_typeof(args) = 'object'),
  CONSTRAINT jobs_meta_object CHECK (jsonb_typeof(meta) = 'object'),
  CONSTRAINT jobs_errors_array CHECK (jsonb_typeof(errors) = 'array')
) WITH (fillfactor = 90);

-- Fetching: the next available jobs of one queue in priority order.
CREATE INDEX jobs_fetch_idx ON jobs (queue, priority, scheduled_at, id)
  WHERE state = 'available';

-- Staging: scheduled and retryable jobs that have come due.
CREATE INDEX jobs_stage_idx ON jobs (scheduled_at, id)
  WHERE state IN ('scheduled', 'retryable');

-- Rescue: executing jobs by the time they started.
CREATE INDEX jobs_executing_idx ON jobs (attempted_at, id)
  WHERE state = 'executing';

-- Pruning: each final state by its own timestamp.
CREATE INDEX jobs_prune_completed_idx ON jobs (completed_at, id) WHERE state = 'completed';
CREATE INDEX jobs_prune_cancelled_idx ON jobs (cancelled_at, id) WHERE state = 'cancelled';
CREATE INDEX jobs_prune_discarded_idx ON jobs (discarded_at, id) WHERE state = 'discarded';

-- Admin listing by worker and state.
CREATE INDEX jobs_state_worker_idx ON jobs (state, worker, id);
