import { run } from "../sql/executor.js";
import { deleteOldJobStats, rollupJobStats } from "../sql/observability/job-stats.js";
import { LeaderService } from "./leader-service.js";
import type { ParsedStatsRollupOptions } from "./maintenance-options.js";
import type { RollupResult } from "./maintenance-results.js";
import type { MaintenanceTarget, PluginContext } from "./plugin.js";

/** Most minutes one run rolls up: a leader back after a long gap catches up over a few runs. */
const maxMinutesPerRun = 60;

/**
 * The built-in history rollup: on the leader, every `interval`, the finished jobs (completed,
 * discarded, cancelled) of each whole minute since the stored watermark become one `job_stats`
 * row per queue, worker and outcome, and history older than `retention` is deleted. Idempotent per
 * minute and safe across a leader change (see `rollupJobStats`). Emits `maintenance:rollup`.
 *
 * @example
 * ```ts
 * new Queue({ connection, stats: { retention: "30d" } }); // or stats: false
 * const { minutes, rows } = await new StatsRollup({ interval: 60_000, retention: 86_400_000, lag: 0 })
 *   .runOnce({ executor: sql, schema: "docket" });
 * ```
 */
export class StatsRollup extends LeaderService<RollupResult> {
  readonly name = "stats";
  readonly options: Readonly<ParsedStatsRollupOptions>;

  /** Takes options that `queueOptionsSchema` parsed (durations in milliseconds). */
  constructor(options: Readonly<ParsedStatsRollupOptions>) {
    super();
    this.options = Object.freeze({ ...options });
  }

  protected loopOptions(context: PluginContext) {
    return {
      intervalMs: this.options.interval,
      onResult: (result: RollupResult, durationMs: number) =>
        context.emit("maintenance:rollup", { ...result, durationMs }),
    };
  }

  /** Rolls up the whole minutes due now (up to an hour of them), then deletes old history. */
  async runOnce(given?: MaintenanceTarget): Promise<RollupResult> {
    const { executor, schema } = this.targetOf(given);
    const [rolled] = await run(
      executor,
      rollupJobStats(schema, this.options.lag, maxMinutesPerRun),
    );
    const [old] = await run(executor, deleteOldJobStats(schema, this.options.retention));
    return {
      minutes: rolled?.minutes ?? 0,
      rows: rolled?.rows ?? 0,
      through: rolled?.through ? new Date(rolled.through) : null,
      deleted: old?.deleted ?? 0,
    };
  }
}
