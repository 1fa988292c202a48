import { z } from "zod";
import {
  type ResolvedUniqueOptions,
  type UniqueOptions,
  uniqueOptionsSchema,
} from "../insert/unique-options.js";
import type { Job, JsonResult } from "../types.js";
import { type ArgsSchema, isArgsSchema } from "../validation/args-schema.js";
import { cancelBrand, hasBrand, snoozeBrand, workerBrand } from "../validation/brand.js";
import { type Duration, durationMs, parseDuration } from "../validation/duration.js";
import type { ProgressValue } from "../validation/progress.js";
import { zodToConfigError } from "../validation/zod-errors.js";

/** What `perform` receives beside the job. */
export interface PerformContext {
  /** Aborted on the worker's timeout, when the job is cancelled, and on shutdown. */
  signal: AbortSignal;
  /**
   * Reports how far the job got: a percentage from 0 to 100, or a small JSON value (at most
   * 4 KiB, e.g. `{ done: 120, total: 400 }`). Kept in `meta.progress` (the last value of each
   * `progressInterval`, and the last of all with the outcome) and emitted as `job:progress` on
   * every node. Returns at once; a database error never reaches `perform`. See
   * docs/workflows.md#progress.
   *
   * @throws ProgressError for a value docket does not store
   * @example
   * ```ts
   * async perform(job, { progress }) {
   *   for (const [i, row] of rows.entries()) { await load(row); progress((100 * (i + 1)) / rows.length); }
   * }
   * ```
   */
  progress(value: ProgressValue): void;
  /**
   * The jobs this job waits for (its `dependsOn`, or its steps' in a workflow), by id, in the
   * order they were given, read with one query when called: a completed one holds what its
   * `perform` returned in `meta.result`. Empty for a job without dependencies; a dependency
   * deleted since (pruned) is missing. See docs/workflows.md.
   *
   * @example
   * ```ts
   * async perform(job, { dependencies }) {
   *   const rows = [...(await dependencies()).values()];
   *   return { imported: rows.reduce((n, row) => n + Number(row.meta.result ?? 0), 0) };
   * }
   * ```
   */
  dependencies(): Promise<Map<string, Job>>;
}

/**
 * Returned from `perform` to run the job again later without using up an attempt. Recognised
 * by its brand (see {@link isSnooze}), so a snooze of another copy of docket counts too.
 */
export class Snooze {
  readonly kind = "snooze";
  readonly [snoozeBrand] = true;
  constructor(readonly delayMs: number) {}
}

/** Returned from `perform` to stop the job for good, in state `cancelled`. Recognised by brand. */
export class Cancel {
  readonly kind = "cancel";
  readonly [cancelBrand] = true;
  constructor(readonly reason: string) {}
}

/**
 * Tells whether `perform` returned a snooze, made by this or any other copy of docket.
 *
 * @example
 * ```ts
 * isSnooze(snooze("10s")); // true
 * ```
 */
export function isSnooze(value: unknown): value is Snooze {
  return hasBrand(value, snoozeBrand) && typeof (value as Snooze).delayMs === "number";
}

/**
 * Tells whether `perform` returned a cancel, made by this or any other copy of docket.
 *
 * @example
 * ```ts
 * isCancel(cancel("user is gone")); // true
 * ```
 */
export function isCancel(value: unknown): value is Cancel {
  return hasBrand(value, cancelBrand) && typeof (value as Cancel).reason === "string";
}

/**
 * Tells whether a value is a worker made by {@link defineWorker} of this or any other copy of
 * docket.
 *
 * @example
 * ```ts
 * isWorker(sendEmail); // true
 * ```
 */
export function isWorker(value: unknown): value is AnyWorker {
  return (
    hasBrand(value, workerBrand) &&
    typeof (value as Worker).name === "string" &&
    typeof (value as Worker).perform === "function"
  );
}

/**
 * Asks for the job to run again after `delay`, without using up an attempt or adding an error.
 *
 * @example
 * ```ts
 * async perform(job) { if (!(await ready())) return snooze("10s"); }
 * ```
 */
export function snooze(delay: Duration): Snooze {
  const ms = parseDuration(delay);
  if (ms === undefined) throw new TypeError(`snooze: ${JSON.stringify(delay)} is not a duration`);
  return new Snooze(ms);
}

/**
 * Cancels the job: it moves to `cancelled` and is not retried.
 *
 * @example
 * ```ts
 * async perform(job) { if (await userDeleted(job.args.userId)) return cancel("user is gone"); }
 * ```
 */
export function cancel(reason = "cancelled by worker"): Cancel {
  return new Cancel(reason);
}

/** What `perform` may return: a JSON value (kept in `meta.result`), a snooze, or a cancel. */
// biome-ignore lint/suspicious/noConfusingVoidType: a worker that returns nothing is normal
export type PerformResult = JsonResult | undefined | void | Snooze | Cancel;

export type { UniqueOptions } from "../insert/unique-options.js";

/**
 * The options of {@link defineWorker}. `Args` is what `perform` receives (the schema's output),
 * `Input` what `insert` takes (the schema's input: fields with defaults are optional).
 */
export interface WorkerOptions<Args, Input = Args> {
  /** Unique name, stored in `jobs.worker`. */
  name: string;
  /** The queue its jobs go to unless an insert says otherwise. Default `"default"`. */
  queue?: string;
  /**
   * Any Standard Schema (zod 3.24+ and 4, valibot, arktype…). Checked at insert, where what it
   * returns is what is stored (defaults filled in; extra keys as the schema decides), and again
   * before `perform`. See docs/schemas.md.
   */
  args?: ArgsSchema<Input, Args>;
  /** Attempts before a failing job is discarded. Default 20. */
  maxAttempts?: number;
  /** 0 (first) to 9 (last). Default 0. */
  priority?: number;
  tags?: string[];
  /** `perform`'s signal is aborted after this long and the attempt counts as failed. */
  timeout?: Duration;
  unique?: UniqueOptions;
  /** Seconds to wait before the next attempt after a failure. */
  backoff?: (job: Job<Args>) => number;
  perform(job: Job<Args>, context: PerformContext): Promise<PerformResult> | PerformResult;
}

/** A worker: what {@link defineWorker} returns and what the queue runs. */
export interface Worker<Args = Record<string, unknown>, Input = Args> {
  readonly name: string;
  readonly queue: string;
  readonly args: ArgsSchema<Input, Args> | undefined;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly tags: readonly string[];
  readonly timeoutMs: number | undefined;
  /** Unique options with defaults filled in (see docs/unique-jobs.md). */
  readonly unique: ResolvedUniqueOptions | undefined;
  readonly backoff: ((job: Job<Args>) => number) | undefined;
  perform(job: Job<Args>, context: PerformContext): Promise<PerformResult> | PerformResult;
}

/** A worker of any args type, as registries hold them. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds workers of every args type
export type AnyWorker = Worker<any, any>;

/** Names of workers and queues: printable, 1–128 characters. */
export const nameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces");

const workerOptionsSchema = z
  .object({
    name: nameSchema,
    queue: nameSchema.default("default"),
    args: z
      .custom<ArgsSchema>(isArgsSchema, "must be a Standard Schema (zod, valibot, arktype…)")
      .optional(),
    maxAttempts: z.number().int().min(1).max(1000).default(20),
    priority: z.number().int().min(0).max(9).default(0),
    tags: z.array(z.string().min(1).max(255)).max(100).default([]),
    timeout: durationMs({ min: 1 }).optional(),
    unique: uniqueOptionsSchema.optional(),
    backoff: z
      .custom<(job: Job) => number>((v) => typeof v === "function", "must be a function")
      .optional(),
    perform: z.custom<Worker["perform"]>((v) => typeof v === "function", "must be a function"),
  })
  .strict();

/**
 * Defines a worker. Its options are checked here, so a mistake fails at import, not at run time.
 *
 * @example
 * ```ts
 * const sendEmail = defineWorker({
 *   name: "email.send",
 *   queue: "mailers",
 *   args: z.object({ to: z.string().email() }),
 *   async perform(job, { signal }) {
 *     await mailer.send(job.args.to, { signal });
 *   },
 * });
 * ```
 */
export function defineWorker<Args = Record<string, unknown>, Input = Args>(
  options: WorkerOptions<Args, Input>,
): Worker<Args, Input> {
  const parsed = workerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const name = typeof options?.name === "string" ? ` "${options.name}"` : "";
    throw zodToConfigError(parsed.error, `worker${name}`, workerOptionsSchema);
  }
  const value = parsed.data;
  return Object.freeze({
    [workerBrand]: true,
    name: value.name,
    queue: value.queue,
    args: value.args as ArgsSchema<Input, Args> | undefined,
    maxAttempts: value.maxAttempts,
    priority: value.priority,
    tags: Object.freeze([...value.tags]),
    timeoutMs: value.timeout,
    unique: value.unique,
    backoff: value.backoff as Worker<Args>["backoff"],
    perform: value.perform as Worker<Args>["perform"],
  });
}
