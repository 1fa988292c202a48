-- 1.5M completed jobs on two days 40 and 41 days ago (UTC), for the prune comparison.
SET search_path = docket;
SELECT CASE WHEN to_regclass('jobs_live') IS NOT NULL
  THEN jobs_create_day_partitions((now() AT TIME ZONE 'UTC')::date - 41, 2) END;
INSERT INTO jobs (state, queue, worker, args, attempt, attempted_at, completed_at)
SELECT 'completed', 'q', 'w', jsonb_build_object('n', g), 1, t, t
FROM (SELECT g, date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - (40 + g % 2) * interval '1 day' + interval '1 hour' AS t
      FROM generate_series(1, 1500000) g) s;
VACUUM ANALYZE jobs;
