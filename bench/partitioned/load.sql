-- 1M completed jobs spread over the last 30 days (UTC), plus 200k available ones in queue 'q'.
SET search_path = docket;
SELECT CASE WHEN to_regclass('jobs_live') IS NOT NULL
  THEN jobs_create_day_partitions((now() AT TIME ZONE 'UTC')::date - 30, 34) END;
INSERT INTO jobs (state, queue, worker, args, attempt, attempted_at, completed_at)
SELECT 'completed', 'q', 'w', jsonb_build_object('n', g), 1, t, t
FROM (SELECT g, now() - (g % 30) * interval '1 day' - interval '1 minute' AS t
      FROM generate_series(1, 1000000) g) s;
INSERT INTO jobs (state, queue, worker, args) SELECT 'available', 'q', 'w', jsonb_build_object('n', g)
FROM generate_series(1, 200000) g;
ANALYZE;
