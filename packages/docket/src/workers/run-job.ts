import { JobTimeoutError } from "../errors.js";
import type { AckRow } from "../sql/ack.js";
import type { Job, JobError, JsonValue } from "../types.js";
import { describeIssues, validateArgs } from "../validation/args-schema.js";
import { findNonJson } from "../validation/json.js";
import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";
import { type CheckedProgress, checkProgress } from "../validation/progress.js";
import {
  maxErrorMessageLength,
  maxErrorStackLength,
  storableLimitedText,
  storableResult,
} from "../validation/storable.js";
import { backoffSeconds, defaultBackoff } from "./backoff.js";
import { type AnyWorker, isCancel, isSnooze } from "./define-worker.js";

/** What happened in one attempt, before it is stored. */
export type Outcome =
  | { kind: "complete"; result: JsonValue | undefined }
  | {
      kind: "error";
      error: unknown;
      state: "retryable" | "discarded";
      delayMs: number;
      /** Said after the error's text, such as why the default backoff was used. */
      note?: string;
    }
  | { kind: "snooze"; delayMs: number }
  | { kind: "cancel"; reason: string }
  /** Shutdown took the job back before it finished: available again, attempt refunded. */
  | { kind: "handback" };

/** Thrown into `perform`'s signal when the node shuts down. */
export class ShutdownError extends Error {
  constructor() {
    super("the queue is shutting down");
    this.name = "ShutdownError";
  }
}

/**
 * Describes a thrown value for `errors`, whatever it is: an Error, a string, a circular object,
 * an object holding a BigInt, a Proxy that throws on every access. Never throws, so the attempt
 * is always stored. Texts are made storable and cut to the documented limits.
 */
export function describeError(job: Job, error: unknown, note?: string): JobError {
  const { text, stack } = describeThrown(error);
  const full = note ? `${text} (${note})` : text;
  const entry: JobError = {
    attempt: job.attempt,
    at: new Date().toISOString(),
    error: storableLimitedText(full, maxErrorMessageLength),
  };
  if (stack) entry.stack = storableLimitedText(stack, maxErrorStackLength);
  return entry;
}

function describeThrown(error: unknown): { text: string; stack?: string } {
  try {
    if (error instanceof Error) {
      const stack = error.stack;
      const text = `${String(error.name)}: ${String(error.message)}`;
      return typeof stack === "string" && stack !== "" ? { text, stack } : { text };
    }
    if (typeof error === "string") return { text: error };
  } catch {
    // A Proxy, or getters that throw: described below, as far as it can be.
  }
  try {
    const json = JSON.stringify(error);
    if (typeof json === "string") return { text: json };
  } catch {
    // A cycle, a BigInt, a throwing toJSON: fall back to String().
  }
  try {
    return { text: String(error) };
  } catch {
    let kind = "value";
    try {
      kind = typeof error;
    } catch {}
    return { text: `a thrown ${kind} that could not be described` };
  }
}

/**
 * Longest delay stored before a job is due again: 100 years, well inside PostgreSQL's
 * timestamp range. A backoff or snooze beyond it is clamped to it.
 */
export const maxDelayMs = 100 * 365 * 86_400_000;

/** A delay as stored: a finite whole number of milliseconds within {@link maxDelayMs}. */
export function storableDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(maxDelayMs, Math.round(ms));
}

function failure(
  job: Job,
  worker: AnyWorker | undefined,
  error: unknown,
  discard = false,
): Outcome {
  if (discard || job.attempt >= job.maxAttempts)
    return { kind: "error", error, state: "discarded", delayMs: 0 };
  const { seconds, note } = backoffSeconds(
    job,
    worker?.backoff as ((job: Job) => number) | undefined,
  );
  const outcome: Outcome = {
    kind: "error",
    error,
    state: "retryable",
    delayMs: storableDelay(seconds * 1000),
  };
  if (note) outcome.note = note;
  return outcome;
}

/** The outcome of an attempt that ended in an error outside the worker's code. */
export function unexpectedFailure(job: Job, error: unknown): Outcome {
  if (job.attempt >= job.maxAttempts)
    return { kind: "error", error, state: "discarded", delayMs: 0 };
  const delayMs = storableDelay(defaultBackoff(job.attempt) * 1000);
  return { kind: "error", error, state: "retryable", delayMs };
}

/** Where the checked reports of `progress()` go (see runner/progress-writer.ts). */
export type ProgressSink = (job: Job, progress: CheckedProgress) => void;

/** Reads the dependencies of a job for `PerformContext.dependencies()`. */
export type DependencyReader = (id: string) => Promise<Map<string, Job>>;

/** The reader where no database is at hand (in memory): no dependencies. */
const noDependencies: DependencyReader = async () => new Map();

/**
 * Runs one attempt of a job: checks its args against the worker's schema, calls `perform` with
 * a signal that aborts on timeout, and turns what happened into an {@link Outcome}. Reports of
 * `progress()` go to `sink` until the attempt ends; later ones are dropped.
 */
export async function runJob(
  job: Job,
  worker: AnyWorker | undefined,
  controller: Pick<AbortController, "signal" | "abort">,
  node: string,
  sink?: ProgressSink,
  readDependencies: DependencyReader = noDependencies,
): Promise<Outcome> {
  if (!worker) {
    return failure(
      job,
      worker,
      new Error(`worker "${job.worker}" is not registered on node ${node}`),
    );
  }
  let performed: Job = job;
  if (worker.args) {
    let parsed = validateArgs(worker.args, job.args);
    if (parsed instanceof Promise) parsed = await parsed; // only an async schema waits
    if (parsed.issues) {
      const fields = describeIssues(parsed.issues);
      const error = new Error(`stored args no longer fit worker "${worker.name}": ${fields}`);
      return failure(job, worker, error, true);
    }
    performed = { ...job, args: parsed.value as Record<string, unknown> };
  }
  let timer: LongTimer | undefined;
  let ended = false;
  try {
    // A getter: the signal is made only if perform looks at it (see LazyAbortController). A
    // perform that throws before returning its promise lands in the catch below.
    const returned: unknown = worker.perform(performed as Job<never>, {
      get signal() {
        return controller.signal;
      },
      progress(value) {
        const checked = checkProgress(value); // throws into perform: the mistake is its own
        if (!ended) sink?.(job, checked);
      },
      dependencies: () => readDependencies(job.id),
    });
    let result: unknown;
    if (worker.timeoutMs === undefined) {
      result = await returned;
    } else {
      const perform = Promise.resolve(returned);
      const timeoutMs = worker.timeoutMs;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setLongTimeout(() => {
          const error = new JobTimeoutError(worker.name, timeoutMs);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      });
      perform.catch(() => {}); // a late rejection after the timeout is not unhandled
      result = await Promise.race([perform, timedOut]);
    }
    // Brands, not instanceof: a worker module may return a snooze of another copy of docket.
    if (isSnooze(result)) return { kind: "snooze", delayMs: storableDelay(result.delayMs) };
    if (isCancel(result)) return { kind: "cancel", reason: result.reason };
    if (result !== undefined) {
      const problem = findNonJson(result, "result");
      if (problem)
        return failure(
          job,
          worker,
          new Error(`perform returned a value JSON cannot hold: ${problem}`),
        );
    }
    return { kind: "complete", result: result as JsonValue | undefined };
  } catch (error) {
    if (controller.signal.aborted && controller.signal.reason instanceof ShutdownError)
      return { kind: "handback" };
    return failure(job, worker, error);
  } finally {
    ended = true;
    timer?.clear();
  }
}

/** Turns an outcome into the row that stores it. */
export function toAckRow(job: Job, outcome: Outcome): AckRow {
  if (outcome.kind === "complete") {
    // The common case, once per job: one object, no spread.
    const meta = outcome.result === undefined ? {} : { result: storableResult(outcome.result) };
    return {
      id: job.id,
      attempt: job.attempt,
      state: "completed",
      delay_ms: null,
      refund: 0,
      error: null,
      meta,
    };
  }
  const base = { id: job.id, attempt: job.attempt, refund: 0 as const, error: null, meta: {} };
  switch (outcome.kind) {
    case "error":
      return {
        ...base,
        state: outcome.state,
        delay_ms: outcome.state === "retryable" ? outcome.delayMs : null,
        error: describeError(job, outcome.error, outcome.note),
      };
    case "snooze":
      return {
        ...base,
        state: outcome.delayMs > 0 ? "scheduled" : "available",
        delay_ms: outcome.delayMs,
        refund: 1,
        meta: { snoozed: (Number(job.meta.snoozed) || 0) + 1 },
      };
    case "cancel":
      return {
        ...base,
        state: "cancelled",
        delay_ms: null,
        error: describeError(job, new Error(`cancelled: ${outcome.reason}`)),
      };
    case "handback":
      return { ...base, state: "available", delay_ms: 0, refund: 1 };
  }
}
