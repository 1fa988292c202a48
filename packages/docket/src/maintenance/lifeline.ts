import { run } from "../sql/executor.js";
import { rescueJobs } from "../sql/maintenance/prune-rescue.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { LeaderService } from "./leader-service.js";
import {
  type LifelineOptions,
  lifelineOptionsSchema,
  type ParsedLifelineOptions,
} from "./maintenance-options.js";
import type { RescueResult } from "./maintenance-results.js";
import type { MaintenanceTarget, PluginContext } from "./plugin.js";

const defaultHeartbeatTimeoutMs = 10_000;

/**
 * The built-in lifeline: takes back `executing` jobs whose producer is gone.
 *
 * With `trustHeartbeats` (the default, "accurate rescue") a job is rescued when its producer's
 * heartbeat is older than `heartbeat.timeout` or its producer row is missing, and never while its
 * producer heartbeats, however long it runs. Jobs that name no node are rescued once executing
 * longer than `rescueAfter`. With `trustHeartbeats: false` only `rescueAfter` counts, as in Oban.
 *
 * A rescued job goes back to `available` with its attempt kept and `meta.rescued` counted, or to
 * `discarded` when it has no attempt left. The queue runs the lifeline on the leader: the check
 * for stopped producers every `heartbeatCheckInterval` (2 s), the full check, by time too, every
 * `interval`; it emits `maintenance:rescue` with each run's result.
 *
 * @example
 * ```ts
 * new Queue({ connection, lifeline: { interval: "30s", rescueAfter: "30m" } });
 * const { rescued, discarded } = await new Lifeline().runOnce({ executor: sql, schema: "docket" });
 * ```
 */
export class Lifeline extends LeaderService<RescueResult> {
  readonly name = "lifeline";
  /** The options after parsing, durations in milliseconds. */
  readonly options: Readonly<ParsedLifelineOptions>;

  /** Set while {@link Lifeline.fromParsed} constructs: options the queue's schema parsed. */
  static #parsed: Readonly<ParsedLifelineOptions> | undefined;

  /**
   * A lifeline of options that `queueOptionsSchema` has parsed already (durations in
   * milliseconds), taken as they are: the queue's parse is the only one.
   *
   * @example
   * ```ts
   * const lifeline = Lifeline.fromParsed(queue.options.lifeline);
   * ```
   */
  static fromParsed(options: Readonly<ParsedLifelineOptions>): Lifeline {
    Lifeline.#parsed = Object.freeze(options);
    try {
      return new Lifeline();
    } finally {
      Lifeline.#parsed = undefined;
    }
  }

  /** @throws ConfigError naming the offending `lifeline.*` option. */
  constructor(options: LifelineOptions = {}) {
    super();
    this.options = Lifeline.#parsed ?? parseLifelineOptions(options);
  }

  protected loopOptions(context: PluginContext) {
    const { interval, heartbeatCheckInterval, trustHeartbeats } = this.options;
    // Without trusted heartbeats there is nothing to check in between the time-based runs.
    const tickMs = trustHeartbeats ? Math.min(interval, heartbeatCheckInterval) : interval;
    let fullRunDueAt = 0;
    return {
      intervalMs: tickMs,
      run: () => {
        const full = performance.now() >= fullRunDueAt;
        if (full) fullRunDueAt = performance.now() + interval - tickMs / 2;
        return this.#rescue(this.targetOf(context), !full);
      },
      onResult: (result: RescueResult, durationMs: number) => {
        if (result.jobs.length > 0) {
          context.logger.warn("docket lifeline rescued jobs", {
            rescued: result.rescued,
            discarded: result.discarded,
          });
        }
        context.emit("maintenance:rescue", { ...result, durationMs });
      },
    };
  }

  /**
   * Rescues every orphaned job found now, in batches. Uses the started queue's database unless
   * `target` is given.
   */
  runOnce(given?: MaintenanceTarget): Promise<RescueResult> {
    return this.#rescue(this.targetOf(given), false);
  }

  async #rescue(target: MaintenanceTarget, heartbeatsOnly: boolean): Promise<RescueResult> {
    const { trustHeartbeats, rescueAfter, batchSize } = this.options;
    const criteria = {
      trustHeartbeats,
      heartbeatsOnly,
      rescueAfterMs: rescueAfter,
      heartbeatTimeoutMs: target.heartbeatTimeoutMs ?? defaultHeartbeatTimeoutMs,
      limit: batchSize,
    };
    const result: RescueResult = { rescued: 0, discarded: 0, jobs: [] };
    for (;;) {
      const rows = await run(target.executor, rescueJobs(target.schema, criteria));
      for (const row of rows) {
        if (row.state === "discarded") result.discarded++;
        else result.rescued++;
        result.jobs.push({
          id: String(row.id),
          queue: row.queue,
          worker: row.worker,
          state: row.state,
          attempt: row.attempt,
          attemptedBy: row.attempted_by,
          reason: row.reason,
        });
      }
      if (rows.length < batchSize) return result;
    }
  }
}

/** Parses and freezes options given to `new Lifeline()`. */
function parseLifelineOptions(options: LifelineOptions): Readonly<ParsedLifelineOptions> {
  const parsed = lifelineOptionsSchema.safeParse(options);
  if (!parsed.success) throw zodToConfigError(parsed.error, "lifeline", lifelineOptionsSchema);
  return Object.freeze(parsed.data);
}
