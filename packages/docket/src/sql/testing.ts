import { sql } from "kysely";

/**
 * Statements of `docket/testing` on the `jobs` table: planning the claims of `drainQueue` (which
 * claims with the producers' own `fetchJobs`), and making scheduled jobs available ahead of their
 * time.
 */

/**
 * How many of the first `limit` available jobs of `queue` (every queue when null), in claim order,
 * each queue holds: claiming that many from each queue with `fetchJobs` claims those jobs.
 */
export function drainPlan(schema: string, queue: string | null, limit: number) {
  const jobs = sql.id(schema, "jobs");
  return sql<{ queue: string; count: number }>`
    SELECT queue, count(*)::integer AS count FROM (
      SELECT queue FROM ${jobs}
      WHERE state = 'available' AND (${queue}::text IS NULL OR queue = ${queue}::text)
      ORDER BY priority, scheduled_at, id
      LIMIT ${limit}
    ) first GROUP BY queue`;
}

/**
 * Makes the `scheduled` jobs of `queue` (every queue when null) available now, whatever their
 * time, except those in `exclude` (already run by this drain, and snoozed by it).
 */
export function stageAllScheduled(schema: string, queue: string | null, exclude: string[]) {
  const jobs = sql.id(schema, "jobs");
  return sql<{ id: string }>`
    UPDATE ${jobs} SET state = 'available', scheduled_at = least(scheduled_at, now())
    WHERE state = 'scheduled' AND (${queue}::text IS NULL OR queue = ${queue}::text)
      AND id <> ALL(${exclude}::bigint[]) AND coalesce(waiting_on, 0) = 0
    RETURNING id`;
}
