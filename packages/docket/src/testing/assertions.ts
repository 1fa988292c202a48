import { AssertionError } from "node:assert";
import { type JobFilter, listJobs } from "../admin/admin.js";
import { queueInternals } from "../internals.js";
import type { Queue } from "../queue.js";
import type { Job, JobState } from "../types.js";

/** What {@link assertEnqueued} and {@link refuteEnqueued} look for. */
export interface EnqueuedMatch {
  /** A worker made by `defineWorker`, or its name. */
  worker: string | { name: string };
  /** A subset of the args: `{ to: "a@b.c" }` matches `{ to: "a@b.c", cc: [] }`. */
  args?: Record<string, unknown>;
  /** The job queue. Default: any. */
  queue?: string;
  /** A subset of the meta. */
  meta?: Record<string, unknown>;
  /** Tags the job must all have. */
  tags?: string[];
  /** The states that count as enqueued. Default `["available", "scheduled"]`. */
  state?: JobState | JobState[];
}

const shown = 5;

function filterOf(match: EnqueuedMatch): JobFilter {
  const filter: JobFilter = {
    worker: match.worker,
    state: match.state ?? ["available", "scheduled"],
  };
  if (match.args) filter.args = match.args;
  if (match.queue) filter.queue = match.queue;
  if (match.meta) filter.meta = match.meta;
  if (match.tags) filter.tags = match.tags;
  return filter;
}

function describe(match: EnqueuedMatch): string {
  const { worker, ...rest } = match;
  const name = typeof worker === "string" ? worker : worker.name;
  return `a job of worker "${name}"${Object.keys(rest).length ? ` with ${JSON.stringify(rest)}` : ""}`;
}

function summary(jobs: Job[]): string {
  return jobs
    .map(
      (j) =>
        `  #${j.id} ${j.state} queue=${j.queue} args=${JSON.stringify(j.args)} meta=${JSON.stringify(j.meta)}`,
    )
    .join("\n");
}

/**
 * Asserts that a matching job is enqueued (available or scheduled, unless `state` says
 * otherwise) and returns it. The failure message lists the jobs of that worker that are there.
 *
 * @example
 * ```ts
 * import { assertEnqueued } from "docket/testing";
 *
 * await signUp("a@b.c");
 * await assertEnqueued(queue, { worker: sendEmail, args: { to: "a@b.c" } });
 * ```
 */
export async function assertEnqueued(queue: Queue, match: EnqueuedMatch): Promise<Job> {
  const { sql } = queue[queueInternals]();
  const { jobs } = await listJobs(sql, queue.schema, { ...filterOf(match), limit: 1 });
  const [job] = jobs;
  if (job) return job;
  const { jobs: others } = await listJobs(sql, queue.schema, {
    worker: match.worker,
    limit: shown,
    order: "desc",
  });
  const found = others.length
    ? `; jobs of that worker:\n${summary(others)}`
    : "; that worker has no jobs";
  throw new AssertionError({ message: `expected ${describe(match)} to be enqueued${found}` });
}

/**
 * Asserts that no matching job is enqueued (available or scheduled, unless `state` says
 * otherwise). The failure message lists the matching jobs.
 *
 * @example
 * ```ts
 * import { refuteEnqueued } from "docket/testing";
 *
 * await signUp("taken@b.c");
 * await refuteEnqueued(queue, { worker: sendEmail });
 * ```
 */
export async function refuteEnqueued(queue: Queue, match: EnqueuedMatch): Promise<void> {
  const { sql } = queue[queueInternals]();
  const { jobs } = await listJobs(sql, queue.schema, { ...filterOf(match), limit: shown });
  if (jobs.length === 0) return;
  throw new AssertionError({
    message: `expected no ${describe(match).slice(2)} to be enqueued, found:\n${summary(jobs)}`,
  });
}
