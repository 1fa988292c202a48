DROP TRIGGER IF EXISTS jobs_settle_failed_dependency ON jobs;
DROP FUNCTION IF EXISTS settle_failed_dependency();
ALTER TABLE jobs
  DROP CONSTRAINT IF EXISTS jobs_dependency_policy,
  DROP COLUMN IF EXISTS dependency_policy,
  DROP COLUMN IF EXISTS dependents,
  DROP COLUMN IF EXISTS waiting_on;
