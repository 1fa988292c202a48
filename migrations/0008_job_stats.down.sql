DROP TABLE IF EXISTS job_stats_rollup;
DROP TABLE IF EXISTS job_stats;
