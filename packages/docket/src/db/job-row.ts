import type { ClaimedRow, JobRow } from "../sql/jobs.js";
import type { Job } from "../types.js";

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
    insertedAt: row.inserted_at,
    scheduledAt: row.scheduled_at,
    attemptedAt: row.attempted_at,
    completedAt: row.completed_at,
    cancelledAt: row.cancelled_at,
    discardedAt: row.discarded_at,
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
