import { toClaimedJob } from "../db/job-row.js";
import { queueInternals } from "../internals.js";
import type { Queue } from "../queue.js";
import { dependencyReader } from "../runner/dependency-reader.js";
import { type AckRow, ackJobs } from "../sql/ack.js";
import { type Executor, run } from "../sql/executor.js";
import { claimLimitedJobs } from "../sql/flow.js";
import { fetchJobs } from "../sql/jobs.js";
import { progressKey } from "../sql/progress.js";
import { drainPlan, stageAllScheduled } from "../sql/testing.js";
import type { Job, JsonValue } from "../types.js";
import { runJob, toAckRow } from "../workers/run-job.js";

/** Options of {@link drainQueue}. */
export interface DrainOptions {
  /** The queue to drain. Default: every queue. */
  queue?: string;
  /** Also run `scheduled` jobs now, whatever their time. Default false. */
  withScheduled?: boolean;
  /**
   * Keep draining until nothing is left, including jobs that the drained jobs insert.
   * Default false: only the jobs available when the drain starts (and, `withScheduled`,
   * scheduled then).
   */
  withRecursion?: boolean;
  /** Run at most this many jobs. Default: no limit. */
  withLimit?: number;
  /** When false, the first error a `perform` throws is thrown from the drain. Default true. */
  withSafety?: boolean;
}

/** How many attempts of a drain ended in each way. */
export interface DrainResult {
  completed: number;
  retryable: number;
  discarded: number;
  cancelled: number;
  snoozed: number;
}

/**
 * Runs the available jobs of a queue (or of all queues) one by one, in this process and in
 * fetch order, storing each outcome as the queue would, and counts the outcomes. Meant for tests
 * with the `manual` testing mode; the queue need not be started. Each job runs at most once per
 * drain: a job that fails or snoozes is counted and left `retryable` or `scheduled`.
 *
 * @example
 * ```ts
 * import { drainQueue } from "docket/testing";
 *
 * await queue.insert(sendEmail, { to: "a@b.c" });
 * expect(await drainQueue(queue, { queue: "mailers" })).toMatchObject({ completed: 1 });
 * ```
 */
export async function drainQueue(queue: Queue, options: DrainOptions = {}): Promise<DrainResult> {
  const { sql, workers, instrumentation } = queue[queueInternals]();
  const { schema, node } = queue;
  const name = options.queue ?? null;
  const limit = options.withLimit ?? Number.POSITIVE_INFINITY;
  const counts: DrainResult = {
    completed: 0,
    retryable: 0,
    discarded: 0,
    cancelled: 0,
    snoozed: 0,
  };
  const ran = new Set<string>();
  const readDependencies = dependencyReader(sql, schema);
  // Outcomes that make a job available again (a snooze of 0) are stored when the drain ends:
  // until then the job stays claimed, so that the drain, which claims with the producers'
  // `fetchJobs`, never claims a job it has run.
  const deferred: AckRow[] = [];
  let firstError: unknown;
  let pass = 0;
  try {
    while (ran.size < limit) {
      if (pass > 0 && !options.withRecursion) break;
      pass++;
      if (options.withScheduled) await run(sql, stageAllScheduled(schema, name, [...ran]));
      // Without recursion, claim the whole first pass at once: jobs inserted meanwhile wait.
      const batch = options.withRecursion ? 1 : Math.min(limit - ran.size, 100_000);
      const jobs = await claim(sql, schema, node, name, batch);
      if (jobs.length === 0) break;
      for (const job of jobs) {
        ran.add(job.id);
        // The last progress reported is stored with the outcome, as a producer does at the end.
        let progress: JsonValue | undefined;
        const sink = (_: Job, reported: { value: JsonValue }) => {
          progress = reported.value;
        };
        // Through the tracer's hook when there is one (docket/otel), as the producers run jobs.
        const attempt = instrumentation.attempt ?? runJob;
        const worker = workers.get(job.worker);
        const outcome = await attempt(
          job,
          worker,
          new AbortController(),
          node,
          sink,
          readDependencies,
        );
        const row = toAckRow(job, outcome);
        if (progress !== undefined) row.meta = { ...row.meta, [progressKey]: progress };
        if (row.state === "available") deferred.push(row);
        else await run(sql, ackJobs(schema, node, { ids: [], attempts: [] }, [row]));
        if (outcome.kind === "complete") counts.completed++;
        else if (outcome.kind === "error") {
          counts[outcome.state]++;
          firstError ??= outcome.error;
        } else if (outcome.kind === "snooze") counts.snoozed++;
        else if (outcome.kind === "cancel") counts.cancelled++;
      }
      if (options.withRecursion) pass = 0;
    }
  } finally {
    if (deferred.length > 0)
      await run(sql, ackJobs(schema, node, { ids: [], attempts: [] }, deferred));
  }
  if (options.withSafety === false && firstError !== undefined) throw firstError;
  return counts;
}

/**
 * Claims the first `limit` available jobs of `queue` (every queue when null) in claim order, with
 * the producers' claim statement: one `fetchJobs` per queue that holds some of them.
 */
async function claim(
  sql: Executor,
  schema: string,
  node: string,
  queue: string | null,
  limit: number,
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const { queue: name, count } of await run(sql, drainPlan(schema, queue, limit))) {
    // A queue with limits refuses the plain claim; its jobs are claimed within the limits.
    let rows = await run(sql, fetchJobs(schema, name, count, node));
    if (rows.length === 0) rows = await run(sql, claimLimitedJobs(schema, name, count, node));
    for (const row of rows) jobs.push(toClaimedJob(row, name, node));
  }
  return jobs.sort(
    (a, b) =>
      a.priority - b.priority || +a.scheduledAt - +b.scheduledAt || Number(a.id) - Number(b.id),
  );
}
