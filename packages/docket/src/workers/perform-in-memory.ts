import type { InsertRow } from "../sql/jobs.js";
import type { Job, JobError, JsonValue } from "../types.js";
import type { AnyWorker } from "./define-worker.js";
import { type DependencyReader, type Outcome, runJob, toAckRow } from "./run-job.js";

/**
 * Attempts of a job run in memory, without the database: the `inline` testing mode's insert and
 * `performJob` of `docket/testing`.
 */

/**
 * What one attempt came to, and the job as the queue would have stored it afterwards:
 * `completed` (the returned value in `result`), `retryable` or `discarded` (the thrown error),
 * `snoozed` (run again after `delayMs`, attempt not used up) or `cancelled`.
 */
export type PerformJobResult<Args = Record<string, unknown>> =
  | { outcome: "completed"; result: JsonValue | undefined; job: Job<Args> }
  | { outcome: "retryable" | "discarded"; error: unknown; job: Job<Args> }
  | { outcome: "snoozed"; delayMs: number; job: Job<Args> }
  | { outcome: "cancelled"; reason: string; job: Job<Args> };

let nextId = 1;

/** A job as a fetch would hand it to a worker: executing, attempt made. */
function executingJob(row: InsertRow, attempt: number): Job {
  const now = new Date();
  const scheduledAt = row.scheduled_at
    ? new Date(row.scheduled_at)
    : new Date(now.getTime() + (row.schedule_in_ms ?? 0));
  return {
    id: String(nextId++),
    state: "executing",
    queue: row.queue,
    worker: row.worker,
    args: row.args as Record<string, unknown>,
    meta: row.meta,
    tags: row.tags,
    errors: [],
    attempt,
    maxAttempts: Math.max(row.max_attempts, attempt),
    priority: row.priority,
    insertedAt: now,
    scheduledAt,
    attemptedAt: now,
    completedAt: null,
    cancelledAt: null,
    discardedAt: null,
    attemptedBy: "docket/testing",
  };
}

/** The job as the acker would store the outcome of its attempt. */
function storedJob(job: Job, outcome: Outcome, progress: JsonValue | undefined): Job {
  const ack = toAckRow(job, outcome);
  if (progress !== undefined) ack.meta = { ...ack.meta, progress };
  const now = new Date();
  return {
    ...job,
    state: ack.state,
    attempt: job.attempt - ack.refund,
    errors: ack.error ? [...job.errors, ack.error as JobError] : job.errors,
    meta: { ...job.meta, ...ack.meta },
    scheduledAt: ack.delay_ms === null ? job.scheduledAt : new Date(now.getTime() + ack.delay_ms),
    completedAt: ack.state === "completed" ? now : null,
    cancelledAt: ack.state === "cancelled" ? now : null,
    discardedAt: ack.state === "discarded" ? now : null,
  };
}

function toResult(outcome: Outcome, job: Job): PerformJobResult {
  switch (outcome.kind) {
    case "complete":
      return { outcome: "completed", result: outcome.result, job };
    case "error":
      return { outcome: outcome.state, error: outcome.error, job };
    case "snooze":
      return { outcome: "snoozed", delayMs: outcome.delayMs, job };
    case "cancel":
      return { outcome: "cancelled", reason: outcome.reason, job };
    case "handback":
      // Only a shutdown hands a job back, and performJob never shuts down.
      return { outcome: "retryable", error: new Error("handed back"), job };
  }
}

/** Runs one attempt of an inserted row in memory, as a producer would. */
export async function performRow(
  worker: AnyWorker | undefined,
  row: InsertRow,
  attempt = 1,
  signal?: AbortSignal,
  readDependencies?: DependencyReader,
): Promise<PerformJobResult> {
  const job = executingJob(row, attempt);
  const controller = new AbortController();
  const abort = () => controller.abort(signal?.reason);
  if (signal?.aborted) abort();
  signal?.addEventListener("abort", abort, { once: true });
  // The last progress reported ends up in the job's meta, as the queue would store it.
  let progress: JsonValue | undefined;
  try {
    const outcome = await runJob(
      job,
      worker,
      controller,
      "docket/testing",
      (_, reported) => {
        progress = reported.value;
      },
      readDependencies,
    );
    return toResult(outcome, storedJob(job, outcome, progress));
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

/**
 * The `inline` testing mode's insert: each row runs at once, in order, and the job comes back
 * in the state its attempt left it. Jobs inserted by a `perform` run inline too.
 */
export async function performInline(
  worker: AnyWorker | undefined,
  rows: InsertRow[],
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const row of rows) jobs.push((await performRow(worker, row)).job);
  return jobs;
}
