import type { Sql } from "postgres";
import type { Listener } from "../db/listen-connection.js";
import { ConfigError, JobCancelledError, JobDiscardedError, WaitTimeoutError } from "../errors.js";
import { run } from "../sql/executor.js";
import { finishedChannel, markAwaited } from "../sql/jobs.js";
import type { Job } from "../types.js";
import { parseDuration } from "../validation/duration.js";
import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";
import { getJob } from "./admin.js";

/** Options of `queue.waitForJob`. */
export interface WaitForJobOptions {
  /** Longest wait (seconds or a duration string); none by default. */
  timeout?: number | string;
  /** Ends the wait early: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How often the job is read again besides the notifications (default 1s, 10ms…1h). */
  pollInterval?: number | string;
}

function duration(name: string, value: number | string | undefined, fallback: number, max: number) {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 10 || ms > max) {
    throw new ConfigError(
      `waitForJob: ${name}: expected a duration from 10ms to ${max / 1000}s, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/**
 * Waits until job `id` finishes: resolves with it when completed, rejects with
 * {@link JobDiscardedError} or {@link JobCancelledError}, with {@link WaitTimeoutError} after
 * `timeout`, or with the signal's reason. The job is marked awaited in its meta, so the ack that
 * finishes it NOTIFYs its id; a poll covers finishes that send none (admin cancel, the lifeline)
 * and a LISTEN that is off or down.
 */
export async function waitForJob(
  parts: { sql: Sql; schema: string; listener: Listener },
  id: string,
  options: WaitForJobOptions = {},
): Promise<Job> {
  const timeoutMs =
    options.timeout === undefined
      ? undefined
      : duration("timeout", options.timeout, 0, 365 * 86_400_000);
  const pollMs = duration("pollInterval", options.pollInterval, 1000, 3_600_000);
  const { sql, schema, listener } = parts;
  options.signal?.throwIfAborted();
  const first = await getJob(sql, schema, id);
  if (!first) throw new ConfigError(`waitForJob: job ${id} does not exist`);

  return new Promise<Job>((resolve, reject) => {
    let settled = false;
    let poll: LongTimer | undefined;
    let deadline: LongTimer | undefined;
    let unlisten: (() => Promise<void>) | undefined;
    let checking: Promise<void> | undefined;
    let again = false;
    const finish = (error: unknown, job?: Job) => {
      if (settled) return;
      settled = true;
      poll?.clear();
      deadline?.clear();
      options.signal?.removeEventListener("abort", onAbort);
      void unlisten?.().catch(() => {});
      if (job) resolve(job);
      else reject(error);
    };
    const onAbort = () => finish(options.signal?.reason);
    const settle = (job: Job | null) => {
      if (!job) return finish(new ConfigError(`waitForJob: job ${id} was deleted`));
      if (job.state === "completed") return finish(undefined, job);
      if (job.state === "discarded") return finish(new JobDiscardedError(job));
      if (job.state === "cancelled") return finish(new JobCancelledError(job.id));
    };
    // One read at a time; a notification during a read asks for one more after it.
    const check = () => {
      if (settled) return;
      if (checking) {
        again = true;
        return;
      }
      checking = getJob(sql, schema, id)
        .then(settle, (error: unknown) => {
          // A failed read is retried at the next poll; the wait goes on.
          void error;
        })
        .finally(() => {
          checking = undefined;
          if (again && !settled) {
            again = false;
            check();
          }
        });
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== undefined) {
      deadline = setLongTimeout(() => finish(new WaitTimeoutError(id, timeoutMs)), timeoutMs);
    }
    poll = (function tick(): LongTimer {
      return setLongTimeout(() => {
        check();
        if (!settled) poll = tick();
      }, pollMs);
    })();

    const subscribe = listener.enabled
      ? listener.listen(finishedChannel(schema), (payload) => payload === id && check(), check)
      : Promise.resolve(undefined);
    subscribe
      .then(async (subscription) => {
        unlisten = subscription?.unlisten;
        if (settled) return void unlisten?.().catch(() => {});
        // Marked after LISTEN began, then read: a finish before the mark is seen by the read, one
        // after it is notified.
        await run(sql, markAwaited(schema, id));
        settle(await getJob(sql, schema, id));
      })
      .catch(() => {
        // Without LISTEN (or the mark) the poll still ends the wait.
      });
    settle(first);
  });
}
