DROP TRIGGER IF EXISTS jobs_count_deleted_batch_job ON jobs;
DROP TRIGGER IF EXISTS jobs_count_batch_outcome ON jobs;
DROP FUNCTION IF EXISTS count_batch_outcome();
DROP FUNCTION IF EXISTS record_batch_outcomes(bigint, integer, integer, integer);
DROP TABLE IF EXISTS batches;
ALTER TABLE jobs
  DROP COLUMN IF EXISTS batch_id,
  DROP COLUMN IF EXISTS depends_on;
