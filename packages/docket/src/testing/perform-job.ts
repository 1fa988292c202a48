import {
  buildInsertRow,
  type InsertOptions,
  parseInsertOptions,
} from "../insert/insert-options.js";
import type { Job } from "../types.js";
import type { AnyWorker, Worker } from "../workers/define-worker.js";
import { type PerformJobResult, performRow } from "../workers/perform-in-memory.js";

export type { PerformJobResult };

/** Options of {@link performJob}: the insert options, and the attempt being made. */
export interface PerformJobOptions extends Omit<InsertOptions, "tx" | "unique"> {
  /** Which attempt this is, from 1. Default 1; give `maxAttempts` to test the last one. */
  attempt?: number;
  /** Aborts the signal `perform` receives, as a cancel or a shutdown would. */
  signal?: AbortSignal;
  /** What `dependencies()` of `perform`'s context returns (default: none), in this order. */
  dependencies?: readonly Job[];
}

const defaultMaxArgsBytes = 1_048_576;

/**
 * Runs a worker on `args` as the queue would, without the database: the args are checked as
 * at insert (an invalid one throws `ArgsError`) and again before `perform`, the timeout
 * applies, and what `perform` returns or throws becomes the outcome the queue would store.
 *
 * @example
 * ```ts
 * import { performJob } from "docket/testing";
 *
 * const { outcome, result } = await performJob(sendEmail, { to: "a@b.c" });
 * expect(outcome).toBe("completed");
 * ```
 */
export async function performJob<Args, Input = Args>(
  worker: Worker<Args, Input>,
  args: NoInfer<Input>,
  options: PerformJobOptions = {},
): Promise<PerformJobResult<Args>> {
  const { attempt = 1, signal, dependencies = [], ...insertOptions } = options;
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`performJob: attempt must be a positive integer, got ${String(attempt)}`);
  }
  const parsed = parseInsertOptions(insertOptions);
  const row = await buildInsertRow(worker as AnyWorker, args, parsed, defaultMaxArgsBytes);
  // A fresh map (of copies) per call: perform may change what it gets.
  const readDependencies = async () =>
    new Map(dependencies.map((job) => [String(job.id), structuredClone(job)] as const));
  return (await performRow(
    worker as AnyWorker,
    row,
    attempt,
    signal,
    readDependencies,
  )) as PerformJobResult<Args>;
}
