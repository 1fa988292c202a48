-- Job dependencies. Runs with search_path set to the target schema.
-- A job that waits for others is inserted `scheduled` at 'infinity' (the stager never makes it
-- due) with `waiting_on` = the number of its dependencies not yet finished. Each dependency lists
-- its dependents in `dependents`, on its own row: the ack that records its outcome holds that
-- row's lock, so it always sees every dependent linked before it (see sql/jobs.ts ackJobs) and
-- decrements their counters in the same statement; the last one makes the dependent available.
-- `dependency_policy` is 'cancel' (a cancelled or discarded dependency cancels the job) or 'run'.
ALTER TABLE jobs
  ADD COLUMN waiting_on integer,
  ADD COLUMN dependents bigint[],
  ADD COLUMN dependency_policy text,
  ADD CONSTRAINT jobs_dependency_policy CHECK (dependency_policy IN ('cancel', 'run'));
