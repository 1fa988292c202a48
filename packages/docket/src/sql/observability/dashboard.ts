import { sql } from "kysely";
import type { JobState } from "../../types.js";
import { stateLiterals } from "../admin.js";

/**
 * Read-only statements of the dashboard. Each is cheap on a table of millions of jobs: counts
 * stop at a cap (and are estimated past it), and every lookup follows an index.
 */

/** Sets `statement_timeout` for the rest of the current transaction. */
export function setStatementTimeout(ms: number) {
  return sql<{ set: string }>`SELECT set_config('statement_timeout', ${String(ms)}, true) AS set`;
}

/**
 * Jobs of one state per queue, reading at most `cap` rows of the state's partial index: when the
 * counts add up to `cap`, the state holds at least that many and the split is a sample.
 */
export function countStateByQueue(schema: string, state: JobState, cap: number) {
  return sql<{ queue: string; count: number }>`
    SELECT queue, count(*)::integer AS count FROM (
      SELECT queue FROM ${sql.id(schema, "jobs")} WHERE state = ${stateLiterals[state]} LIMIT ${cap}
    ) AS capped GROUP BY queue`;
}

/** The planner's estimate of how many jobs are in `state`, from the table's statistics. */
export function explainStateCount(schema: string, state: JobState) {
  return sql<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }>`
    EXPLAIN (FORMAT JSON) SELECT 1 FROM ${sql.id(schema, "jobs")} WHERE state = ${stateLiterals[state]}`;
}

/**
 * How long the oldest due `available` job of each queue has waited, in milliseconds: one index
 * probe per priority of each queue.
 */
export function oldestAvailableAge(schema: string, queues: string[]) {
  const jobs = sql.id(schema, "jobs");
  return sql<{ queue: string; age_ms: number | null }>`
    SELECT q.queue, (extract(epoch FROM now() - min(x.scheduled_at)) * 1000)::float8 AS age_ms
    FROM unnest(${queues}::text[]) AS q(queue)
    CROSS JOIN generate_series(0, 9) AS p(priority)
    LEFT JOIN LATERAL (
      SELECT scheduled_at FROM ${jobs}
      WHERE state = 'available' AND queue = q.queue AND priority = p.priority
      ORDER BY scheduled_at LIMIT 1
    ) AS x ON true
    GROUP BY q.queue`;
}

/** Executing jobs per queue and node. */
export function executingByNode(schema: string) {
  return sql<{ queue: string; node: string | null; count: number }>`
    SELECT queue, attempted_by AS node, count(*)::integer AS count
    FROM ${sql.id(schema, "jobs")} WHERE state = 'executing'
    GROUP BY queue, attempted_by ORDER BY queue, attempted_by`;
}

/** Every queue the cluster has stored state for: paused, and the limit set by `scaleQueue`. */
export function selectQueueRows(schema: string) {
  return sql<{ name: string; paused: boolean; concurrency: number | null }>`
    SELECT name, paused, concurrency FROM ${sql.id(schema, "queues")} ORDER BY name`;
}

/** Every producer row, live or not, with the age of its heartbeat by the database's clock. */
export function selectProducers(schema: string) {
  return sql<{
    node: string;
    queue: string;
    concurrency: number;
    started_at: Date;
    heartbeat_at: Date;
    heartbeat_age_ms: number;
  }>`
    SELECT node, queue, concurrency, started_at, heartbeat_at,
      (extract(epoch FROM now() - heartbeat_at) * 1000)::float8 AS heartbeat_age_ms
    FROM ${sql.id(schema, "producers")} ORDER BY node, queue`;
}

/** Leases that have not expired. */
export function selectLeases(schema: string) {
  return sql<{ name: string; node: string; elected_at: Date; expires_at: Date }>`
    SELECT name, node, elected_at, expires_at FROM ${sql.id(schema, "leaders")}
    WHERE expires_at > now() ORDER BY name`;
}

/** Cron entries with their last claimed slot and the job it inserted. */
export function selectCronEntries(schema: string) {
  return sql<{
    name: string;
    expression: string;
    timezone: string;
    last_slot: Date | null;
    last_job_id: string | null;
    now: Date;
  }>`
    SELECT e.name, e.expression, e.timezone, e.last_slot, s.job_id::text AS last_job_id,
      now() AS now
    FROM ${sql.id(schema, "cron_entries")} AS e
    LEFT JOIN ${sql.id(schema, "cron_slots")} AS s ON s.entry = e.name AND s.slot = e.last_slot
    ORDER BY e.name`;
}
