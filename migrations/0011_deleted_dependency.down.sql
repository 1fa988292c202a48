-- The function keeps its TG_OP-aware body: with the DELETE trigger gone it behaves as in 0009.
DROP TRIGGER IF EXISTS jobs_settle_deleted_dependency ON jobs;
