-- Every claim and every completion moves a job to a new state, so neither update can be HOT: each
-- writes one entry into every index whose condition the new row meets. An index over all rows
-- (state, worker, id) took an entry at each of those steps and cost a fifth of the server's work
-- per job, for admin listings only. Listings now read the primary key, or the partial index of the
-- state they ask for (see docs/admin.md).
DROP INDEX jobs_state_worker_idx;
