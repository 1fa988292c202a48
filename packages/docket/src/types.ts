/**
 * Words used across docket:
 *
 * - **job**: one unit of work, a row in `jobs`, run by a worker with its `args`.
 * - **worker**: the code that performs jobs of one kind, named by `defineWorker({ name })`.
 * - **queue**: a named line of jobs with its own concurrency limit on each node.
 * - **node**: one running `Queue` instance (a process, usually); it has a name, stored in
 *   `attempted_by` on the jobs it runs.
 * - **producer**: the part of a node that fetches and runs the jobs of one queue.
 * - **leader**: the one node that runs maintenance (pruner, lifeline, stager, cron).
 * - **target**: a cleanup target, a periodic worker that deletes or archives old rows.
 *
 * @module
 */

/** The states a job moves through. */
export const jobStates = [
  "available",
  "scheduled",
  "executing",
  "retryable",
  "completed",
  "discarded",
  "cancelled",
] as const;

/** A job's state. */
export type JobState = (typeof jobStates)[number];

/** A JSON value as stored in `args`, `meta` and results. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * What `perform` may return as its result: anything JSON can hold. Wider than {@link JsonValue}
 * so that plain TypeScript values fit: read-only arrays, properties that may be `undefined`
 * (dropped, as `JSON.stringify` drops them; branches returning objects of different shapes type
 * this way), and `Date`s (stored as ISO text). Values typed by an `interface` need a `type`
 * alias instead, as interfaces have no index signature.
 *
 * @example
 * ```ts
 * async perform(job): Promise<JsonResult> {
 *   return job.args.dryRun ? { skipped: true } : { sent: 3, at: new Date() };
 * }
 * ```
 */
export type JsonResult =
  | string
  | number
  | boolean
  | null
  | Date
  | readonly JsonResult[]
  | { readonly [key: string]: JsonResult | undefined };

/** One failed attempt, kept in `job.errors`. */
export interface JobError {
  attempt: number;
  at: string;
  error: string;
  stack?: string;
}

/**
 * A job as stored. Ids are bigint in the database and reach JavaScript as strings.
 *
 * @example
 * ```ts
 * const job = await queue.insert(sendEmail, { to: "a@b.c" });
 * job.id; job.state; // "42", "available"
 * ```
 */
export interface Job<Args = Record<string, unknown>> {
  id: string;
  state: JobState;
  queue: string;
  worker: string;
  args: Args;
  meta: Record<string, unknown>;
  tags: string[];
  errors: JobError[];
  attempt: number;
  maxAttempts: number;
  priority: number;
  insertedAt: Date;
  scheduledAt: Date;
  attemptedAt: Date | null;
  completedAt: Date | null;
  cancelledAt: Date | null;
  discardedAt: Date | null;
  attemptedBy: string | null;
  /** Set on a unique insert that met an existing job: the job returned is that one. */
  conflict?: boolean;
}

/**
 * How a schema stores its jobs: one plain table, or the partitioned layout of
 * `partitioned: true` (live states in one partition, finished states by day; docs/scaling.md).
 */
export type JobsLayout = "plain" | "partitioned";
