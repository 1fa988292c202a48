import type { ClaimedRow, JobRow } from "../sql/jobs.js";
import type { Job } from "../types.js";

/**
 * A timestamp as a Date. postgres.js and node-postgres parse them; some clients whose
 * transactions docket runs on leave them as text (Drizzle on postgres.js).
 *
 * @example
 * ```ts
 * asDate("2026-12-02 06:33:00.123+00"); // Date
 * ```
 */
export function asDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

const asDateOrNull = (value: Date | string | null): Date | null =>
  value === null ? null : asDate(value);

/** Maps a row of `jobs` to the {@link Job} users see. */
export function toJob(row: JobRow): Job {
  return {
    id: String(row.id),
    state: row.state,
    queue: row.queue,
    worker: row.worker,
    args: row.args,
    meta: row.meta,
    tags: row.tags,
    errors: row.errors,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    insertedAt: asDate(row.inserted_at),
    scheduledAt: asDate(row.scheduled_at),
    attemptedAt: asDateOrNull(row.attempted_at),
    completedAt: asDateOrNull(row.completed_at),
    cancelledAt: asDateOrNull(row.cancelled_at),
    discardedAt: asDateOrNull(row.discarded_at),
    attemptedBy: row.attempted_by,
  };
}

/** Maps a row that `node` has just claimed from `queue` to the {@link Job} its handler gets. */
export function toClaimedJob(row: ClaimedRow, queue: string, node: string): Job {
  return {
    id: String(row.id),
    state: "executing",
    queue,
    worker: row.worker,
    args: row.args,
    meta: row.meta,
    tags: row.tags,
    errors: row.errors,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    insertedAt: row.inserted_at,
    scheduledAt: row.scheduled_at,
    attemptedAt: row.attempted_at,
    completedAt: null,
    cancelledAt: null,
    discardedAt: null,
    attemptedBy: node,
  };
}
