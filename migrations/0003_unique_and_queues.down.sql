DROP TABLE IF EXISTS queues;
DROP INDEX IF EXISTS jobs_unique_key_idx;
ALTER TABLE jobs
  DROP COLUMN IF EXISTS unique_states,
  DROP COLUMN IF EXISTS unique_key;
DROP FUNCTION IF EXISTS job_state_in_bitmask(bit(8), job_state);
