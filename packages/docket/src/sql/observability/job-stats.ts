import { sql } from "kysely";

/**
 * The statements of the per-minute history (`job_stats`, watermark in `job_stats_rollup`). The
 * rollup reads finished jobs through the pruner's partial indexes (`jobs_prune_<state>_idx`).
 */

/** What one rollup statement did. */
export interface RollupRow {
  rows: number;
  minutes: number;
  through: Date | null;
}

/**
 * Rolls up the finished jobs of the whole minutes after the watermark, at most `maxMinutes` of
 * them and only minutes that ended `lagMs` ago (an ack may commit a moment after its timestamp),
 * then moves the watermark, all in one statement. The watermark row is locked first, so two
 * leaders for a moment after a change take turns and the second sees the first's watermark;
 * the upsert recomputes a minute from the jobs, so rolling one up twice writes the same row.
 */
export function rollupJobStats(schema: string, lagMs: number, maxMinutes: number) {
  const jobs = sql.id(schema, "jobs");
  const stats = sql.id(schema, "job_stats");
  const mark = sql.id(schema, "job_stats_rollup");
  return sql<RollupRow>`
    WITH bounds AS MATERIALIZED (
      SELECT m.rolled_through AS lo,
        greatest(m.rolled_through, least(
          m.rolled_through + ${maxMinutes}::int * interval '1 minute',
          date_trunc('minute', now() - ${lagMs}::double precision * interval '1 millisecond'))) AS hi
      FROM ${mark} AS m
      -- One row (the table's CHECK); said so, or the planner, guessing a table never analyzed
      -- holds 2,200, costs the statement in the millions and JIT-compiles it (1.3 s a run).
      LIMIT 1
      FOR UPDATE
    ), finished AS (
      SELECT j.queue, j.worker, 'completed' AS outcome, j.completed_at AS at, j.attempted_at, j.scheduled_at
      FROM ${jobs} AS j, bounds AS b
      WHERE j.state = 'completed' AND j.completed_at >= b.lo AND j.completed_at < b.hi
      UNION ALL
      SELECT j.queue, j.worker, 'discarded', j.discarded_at, j.attempted_at, j.scheduled_at
      FROM ${jobs} AS j, bounds AS b
      WHERE j.state = 'discarded' AND j.discarded_at >= b.lo AND j.discarded_at < b.hi
      UNION ALL
      SELECT j.queue, j.worker, 'cancelled', j.cancelled_at, j.attempted_at, j.scheduled_at
      FROM ${jobs} AS j, bounds AS b
      WHERE j.state = 'cancelled' AND j.cancelled_at >= b.lo AND j.cancelled_at < b.hi
    ), timed AS (
      SELECT date_trunc('minute', f.at) AS minute, f.queue, f.worker, f.outcome,
        extract(epoch FROM f.at - f.attempted_at) * 1000 AS exec_ms,
        extract(epoch FROM f.attempted_at - f.scheduled_at) * 1000 AS wait_ms
      FROM finished AS f
    ), written AS (
      INSERT INTO ${stats} (minute, queue, worker, outcome, count, exec_p50_ms, exec_p95_ms,
        exec_max_ms, wait_p50_ms, wait_p95_ms, wait_max_ms)
      SELECT t.minute, t.queue, t.worker, t.outcome, count(*),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY t.exec_ms),
        percentile_cont(0.95) WITHIN GROUP (ORDER BY t.exec_ms),
        max(t.exec_ms),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(t.wait_ms, 0)),
        percentile_cont(0.95) WITHIN GROUP (ORDER BY greatest(t.wait_ms, 0)),
        max(greatest(t.wait_ms, 0))
      FROM timed AS t
      GROUP BY t.minute, t.queue, t.worker, t.outcome
      ON CONFLICT (minute, queue, worker, outcome) DO UPDATE SET
        count = excluded.count,
        exec_p50_ms = excluded.exec_p50_ms, exec_p95_ms = excluded.exec_p95_ms,
        exec_max_ms = excluded.exec_max_ms, wait_p50_ms = excluded.wait_p50_ms,
        wait_p95_ms = excluded.wait_p95_ms, wait_max_ms = excluded.wait_max_ms
      RETURNING 1
    ), moved AS (
      UPDATE ${mark} AS m SET rolled_through = b.hi
      FROM bounds AS b
      WHERE b.hi > b.lo
      RETURNING m.rolled_through
    )
    SELECT (SELECT count(*) FROM written)::int AS rows,
      (SELECT (extract(epoch FROM b.hi - b.lo) / 60)::int FROM bounds AS b) AS minutes,
      coalesce((SELECT rolled_through FROM moved), (SELECT b.lo FROM bounds AS b)) AS through`;
}

/** Deletes history older than `retentionMs`. */
export function deleteOldJobStats(schema: string, retentionMs: number) {
  return sql<{ deleted: number }>`
    WITH gone AS (
      DELETE FROM ${sql.id(schema, "job_stats")}
      WHERE minute < now() - ${retentionMs}::double precision * interval '1 millisecond'
      RETURNING 1
    )
    SELECT count(*)::int AS deleted FROM gone`;
}

/** A bucket width of {@link readJobStats}, as `date_trunc` names it. */
export type StatsBucket = "minute" | "hour" | "day";

/** One row of {@link readJobStats}. */
export interface JobStatsRow {
  at: Date;
  queue: string;
  worker: string;
  outcome: string;
  count: number;
  exec_p50_ms: number | null;
  exec_p95_ms: number | null;
  exec_max_ms: number | null;
  wait_p50_ms: number | null;
  wait_p95_ms: number | null;
  wait_max_ms: number | null;
}

/**
 * The history from `since`, per `bucket`, queue, worker and outcome, oldest first. Buckets wider
 * than a minute give the count-weighted mean of the minutes' percentiles (percentiles do not
 * add up exactly) and the largest maximum.
 */
export function readJobStats(
  schema: string,
  filter: { since: Date; bucket: StatsBucket; queue: string | null; worker: string | null },
) {
  return sql<JobStatsRow>`
    SELECT date_trunc(${filter.bucket}, s.minute) AS at, s.queue, s.worker, s.outcome,
      sum(s.count)::float8 AS count,
      sum(s.exec_p50_ms * s.count) / nullif(sum(s.count) FILTER (WHERE s.exec_p50_ms IS NOT NULL), 0) AS exec_p50_ms,
      sum(s.exec_p95_ms * s.count) / nullif(sum(s.count) FILTER (WHERE s.exec_p95_ms IS NOT NULL), 0) AS exec_p95_ms,
      max(s.exec_max_ms) AS exec_max_ms,
      sum(s.wait_p50_ms * s.count) / nullif(sum(s.count) FILTER (WHERE s.wait_p50_ms IS NOT NULL), 0) AS wait_p50_ms,
      sum(s.wait_p95_ms * s.count) / nullif(sum(s.count) FILTER (WHERE s.wait_p95_ms IS NOT NULL), 0) AS wait_p95_ms,
      max(s.wait_max_ms) AS wait_max_ms
    FROM ${sql.id(schema, "job_stats")} AS s
    WHERE s.minute >= ${filter.since}::timestamptz
      AND (${filter.queue}::text IS NULL OR s.queue = ${filter.queue}::text)
      AND (${filter.worker}::text IS NULL OR s.worker = ${filter.worker}::text)
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4`;
}
