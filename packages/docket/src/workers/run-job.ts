import { JobTimeoutError } from "../errors.js";
import type { AckRow } from "../sql/jobs.js";
import type { Job, JobError, JsonValue } from "../types.js";
import { describeIssues, validateArgs } from "../validation/args-schema.js";
import { findNonJson } from "../validation/json.js";
import { backoffSeconds } from "./backoff.js";
import { type AnyWorker, isCancel, isSnooze } from "./define-worker.js";

/** What happened in one attempt, before it is stored. */
export type Outcome =
  | { kind: "complete"; result: JsonValue | undefined }
  | { kind: "error"; error: unknown; state: "retryable" | "discarded"; delayMs: number }
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

function describeError(job: Job, error: unknown): JobError {
  const entry: JobError = { attempt: job.attempt, at: new Date().toISOString(), error: "" };
  if (error instanceof Error) {
    entry.error = `${error.name}: ${error.message}`;
    if (error.stack) entry.stack = error.stack;
  } else {
    entry.error = typeof error === "string" ? error : (JSON.stringify(error) ?? String(error));
  }
  return entry;
}

function failure(
  job: Job,
  worker: AnyWorker | undefined,
  error: unknown,
  discard = false,
): Outcome {
  if (discard || job.attempt >= job.maxAttempts)
    return { kind: "error", error, state: "discarded", delayMs: 0 };
  const seconds = backoffSeconds(job, worker?.backoff as ((job: Job) => number) | undefined);
  return { kind: "error", error, state: "retryable", delayMs: Math.round(seconds * 1000) };
}

/**
 * Runs one attempt of a job: checks its args against the worker's schema, calls `perform` with
 * a signal that aborts on timeout, and turns what happened into an {@link Outcome}.
 */
export async function runJob(
  job: Job,
  worker: AnyWorker | undefined,
  controller: Pick<AbortController, "signal" | "abort">,
  node: string,
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
  let timer: NodeJS.Timeout | undefined;
  try {
    // A getter: the signal is made only if perform looks at it (see LazyAbortController). A
    // perform that throws before returning its promise lands in the catch below.
    const returned: unknown = worker.perform(performed as Job<never>, {
      get signal() {
        return controller.signal;
      },
    });
    let result: unknown;
    if (worker.timeoutMs === undefined) {
      result = await returned;
    } else {
      const perform = Promise.resolve(returned);
      const timeoutMs = worker.timeoutMs;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new JobTimeoutError(worker.name, timeoutMs);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      });
      perform.catch(() => {}); // a late rejection after the timeout is not unhandled
      result = await Promise.race([perform, timedOut]);
    }
    // Brands, not instanceof: a worker module may return a snooze of another copy of docket.
    if (isSnooze(result)) return { kind: "snooze", delayMs: result.delayMs };
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
    if (timer) clearTimeout(timer);
  }
}

/** Turns an outcome into the row that stores it. */
export function toAckRow(job: Job, outcome: Outcome): AckRow {
  if (outcome.kind === "complete") {
    // The common case, once per job: one object, no spread.
    const meta = outcome.result === undefined ? {} : { result: outcome.result };
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
        error: describeError(job, outcome.error),
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
