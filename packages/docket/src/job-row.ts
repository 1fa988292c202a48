import type { JobRow } from "./sql/jobs.js";
import type { Job } from "./types.js";

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
