import type { CleanupTarget } from "../cleanup/define-target.js";
import type { Transaction } from "../db/transaction-adapters.js";
import { InsertError } from "../errors.js";
import type { Instrumentation } from "../internals.js";
import type { GraphBatch } from "../sql/workflows.js";
import type { Job } from "../types.js";
import type { AnyWorker } from "../workers/define-worker.js";
import { type BatchOptions, resolveCallback } from "./batch.js";
import { insertSteps, type PendingStep } from "./graph-insert.js";
import { type InsertContext, insertJobsOf } from "./insert-jobs.js";
import { type InsertOptions, parseInsertOptions } from "./insert-options.js";

/** What a queue's inserts need from their queue (see Queue#insertMany, #workflow, #batch). */
export interface InsertHost {
  /** Throws when the queue may no longer insert (after `stop()`); `what` names the call. */
  checkOpen(what: string): void;
  /** Waits until the pool may be used (not in inline testing mode, which never connects). */
  settle(): Promise<void>;
  readonly context: InsertContext;
  readonly instrumentation: Instrumentation;
  /** The error to throw for a failed `call`: a database error explained, others as they are. */
  explain(error: unknown, call: string): unknown;
  /** Whether someone listens to `jobs:insert`. */
  announces(): boolean;
  /** Emits one `jobs:insert`. */
  announce(group: { queue: string; worker: string; count: number }): void;
}

/** Inserts many jobs of one worker, through the tracer's hook when there is one. */
export async function insertMany(
  host: InsertHost,
  worker: AnyWorker | CleanupTarget | string,
  argsList: readonly unknown[],
  options: InsertOptions | undefined,
): Promise<Job[]> {
  host.checkOpen("insert");
  if (!Array.isArray(argsList)) throw new InsertError("insertMany: args must be an array");
  await host.settle();
  const insert = (meta: Record<string, unknown> | undefined) =>
    insertJobsOf(
      host.context,
      worker,
      argsList,
      meta === options?.meta ? options : { ...options, meta },
    );
  const wrap = host.instrumentation.insert;
  const call = wrap
    ? wrap({ count: argsList.length, meta: options?.meta }, insert)
    : insert(options?.meta);
  const jobs = await call.catch((error: unknown) => {
    throw host.explain(error, "insert");
  });
  // One worker, so one queue: one group.
  const first = jobs[0];
  if (first && host.announces()) {
    host.announce({ queue: first.queue, worker: first.worker, count: jobs.length });
  }
  return jobs;
}

/** The batch row of a batch's or workflow's callback, its worker and args checked. */
export function batchOf(
  host: InsertHost,
  options: BatchOptions<never, never>,
): Promise<GraphBatch> {
  const { workers, maxArgsBytes } = host.context;
  return resolveCallback({ workers, maxArgsBytes }, options);
}

/** Inserts the jobs of a workflow or batch (see graph-insert.ts), traced as one insert call. */
export async function insertGraph(
  host: InsertHost,
  steps: PendingStep[],
  batch: GraphBatch | null,
  tx: Transaction | undefined,
  what: string,
): Promise<{ jobs: Job[]; batchId: string | null }> {
  host.checkOpen(`${what} insert`);
  // The transaction is checked as insert checks it.
  const executor = tx === undefined ? undefined : parseInsertOptions({ tx }).tx;
  await host.settle();
  let batchId: string | null = null;
  const insert = async (meta: Record<string, unknown> | undefined) => {
    // A tracer's meta (its traceparent) goes into every step's, beside the step's own.
    const traced = meta
      ? steps.map((step) => ({
          ...step,
          options: { ...step.options, meta: { ...step.options?.meta, ...meta } },
        }))
      : steps;
    const result = await insertSteps(host.context, traced, batch, executor, what);
    batchId = result.batchId;
    return result.jobs;
  };
  const wrap = host.instrumentation.insert;
  const call = wrap ? wrap({ count: steps.length, meta: undefined }, insert) : insert(undefined);
  const jobs = await call.catch((error: unknown) => {
    throw host.explain(error, what);
  });
  if (host.announces()) {
    const groups = new Map<string, { queue: string; worker: string; count: number }>();
    for (const job of jobs) {
      const key = `${job.queue}\u0000${job.worker}`;
      const group = groups.get(key) ?? { queue: job.queue, worker: job.worker, count: 0 };
      group.count++;
      groups.set(key, group);
    }
    for (const group of groups.values()) host.announce(group);
  }
  return { jobs, batchId };
}
