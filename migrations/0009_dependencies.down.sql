ALTER TABLE jobs
  DROP CONSTRAINT IF EXISTS jobs_dependency_policy,
  DROP COLUMN IF EXISTS dependency_policy,
  DROP COLUMN IF EXISTS dependents,
  DROP COLUMN IF EXISTS waiting_on;
