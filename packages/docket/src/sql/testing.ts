import { sql } from "kysely";
import type { JobRow } from "./jobs.js";

/**
 * Statements of `docket/testing` on the `jobs` table: claiming jobs for `drainQueue` from one
 * queue or all, and making scheduled jobs available ahead of their time.
 */

/**
 * Claims up to `limit` available jobs of `queue` (every queue when null) for `node`, except
 * those in `exclude` (already run by this drain).
 */
export function claimForDrain(
  schema: string,
  queue: string | null,
  limit: number,
  node: string,
  exclude: string[],
) {
  const jobs = sql.id(schema, "jobs");
  return sql<JobRow>`
    WITH next AS (
      SELECT id FROM ${jobs}
      WHERE state = 'available' AND (${queue}::text IS NULL OR queue = ${queue}::text)
        AND id <> ALL(${exclude}::bigint[])
      ORDER BY priority, scheduled_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE ${jobs} AS j
    SET state = 'executing', attempt = j.attempt + 1, attempted_at = now(), attempted_by = ${node}
    FROM next WHERE j.id = next.id
    RETURNING j.*`;
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
      AND id <> ALL(${exclude}::bigint[])
    RETURNING id`;
}
