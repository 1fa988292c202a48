import { EventEmitter } from "node:events";
import type { CronInsertion } from "./cron/cron-insertion.js";
import type { DashboardAction } from "./dashboard/dashboard-action.js";
import type { PruneResult, RescueResult, RollupResult } from "./maintenance/maintenance-results.js";
import type { Job, JsonValue } from "./types.js";

/** Timing common to the events of one attempt. */
export interface AttemptTiming {
  /** Milliseconds from when the job was due to when it started. */
  queueTimeMs: number;
  /** Milliseconds `perform` ran. */
  durationMs: number;
}

/**
 * A running job reported progress (`progress()` in `perform`). On the node that runs the job,
 * every report; on the other nodes (any `Queue` with a `job:progress` listener and LISTEN on,
 * also one that runs no queues), the last value of each `progressInterval`, by NOTIFY.
 */
export interface JobProgress {
  id: string;
  queue: string;
  worker: string;
  attempt: number;
  /** The node running the job. */
  node: string;
  /** What `perform` reported: a number from 0 to 100, or a small JSON value. */
  progress: JsonValue;
}

/**
 * The events a Queue emits, for logging and metrics. Job events of an outcome are emitted
 * once the outcome is stored. Each is also published on a `node:diagnostics_channel` named
 * `docket:<event>` (see {@link diagnosticsChannelNames}) when something subscribes there.
 *
 * @example
 * ```ts
 * queue.on("job:error", ({ job, error }) => log.warn({ id: job.id, error }));
 * queue.on("queue:error", ({ error, source }) => log.error({ source, error }));
 * ```
 */
export interface QueueEvents {
  "job:start": [{ job: Job; queueTimeMs: number }];
  "job:complete": [{ job: Job; result: JsonValue | undefined } & AttemptTiming];
  /** An attempt failed; `state` says whether the job will be retried or is discarded. */
  "job:error": [{ job: Job; error: unknown; state: "retryable" | "discarded" } & AttemptTiming];
  "job:discard": [{ job: Job; error: unknown } & AttemptTiming];
  "job:snooze": [{ job: Job; delayMs: number } & AttemptTiming];
  "job:cancel": [{ job: Job; reason: string } & AttemptTiming];
  /** A running job reported progress, here or on another node (see {@link JobProgress}). */
  "job:progress": [JobProgress];
  /**
   * Jobs were inserted by this node: one event per `insert` or `insertMany` call, once its
   * statements ran (inside a caller's transaction, before that commits). Built only when someone
   * listens.
   */
  "jobs:insert": [{ queue: string; worker: string; count: number }];
  /**
   * A maintenance task's run ended on the leader (`stager`, `pruner`, `lifeline`, `cron`…, and
   * plugins run by a `LeaderLoop`), with its outcome: `ok`, or `error` (also a `queue:error`).
   */
  "maintenance:run": [{ task: string; outcome: "ok" | "error"; durationMs: number }];
  /** Something went wrong outside a job (a lost connection, a failed fetch); docket carries on. */
  "queue:error": [{ error: unknown; source: string }];
  /** This node gained (`isLeader: true`) or lost the leadership. */
  "leader:change": [{ isLeader: boolean; node: string }];
  /** A pruner run ended (on the leader), whether or not it deleted anything. */
  "maintenance:prune": [PruneResult & { durationMs: number }];
  /** A lifeline run ended (on the leader), whether or not it rescued anything. */
  "maintenance:rescue": [RescueResult & { durationMs: number }];
  /** A history rollup run ended (on the leader): minutes rolled up into `job_stats`. */
  "maintenance:rollup": [RollupResult & { durationMs: number }];
  /** The leader inserted the job of a cron entry's slot (`missed`: earlier slots skipped). */
  "cron:insert": [CronInsertion];
  /** Someone changed jobs or a queue through the dashboard (for audit logs). */
  "dashboard:action": [DashboardAction];
}

/**
 * The `EventEmitter` of {@link QueueEvents} that `Queue` extends: node's typed `EventEmitter<T>`
 * already takes only those names, so a misspelt event (`queue.on("job:completed")`) is a type
 * error rather than a listener that never runs.
 *
 * @example
 * ```ts
 * queue.on("job:complete", ({ job, result }) => log.info({ id: job.id, result }));
 * ```
 */
export class QueueEventEmitter extends EventEmitter<QueueEvents> {}
