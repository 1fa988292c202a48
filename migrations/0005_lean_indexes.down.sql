CREATE INDEX jobs_state_worker_idx ON jobs (state, worker, id);
