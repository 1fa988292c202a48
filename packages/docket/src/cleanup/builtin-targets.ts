import { sql } from "kysely";
import { ConfigError } from "../errors.js";
import { deleteStaleProducerRows } from "../maintenance/heartbeat.js";
import { Pruner } from "../maintenance/pruner.js";
import { run } from "../sql/executor.js";
import {
  type BatchTable,
  col,
  databaseNow,
  describeTable,
  olderThanCandidates,
} from "../sql/maintenance/cleanup.js";
import { type PrunableState, prunableStates } from "../sql/maintenance/prune-rescue.js";
import { type Duration, parseDuration } from "../validation/duration.js";
import { archiveInBatches, type BatchProgress } from "./cleanup-batches.js";
import { databaseMaintenanceTarget } from "./database-upkeep.js";
import { type CleanupTarget, defineCleanupTarget } from "./define-target.js";

/**
 * The cleanup targets every queue has for docket's own tables: `Jobs`, `JobArchive`,
 * `DatabaseMaintenance` and `Producers`. None is scheduled unless a schedule is given (in code,
 * `[cleanup.<Name>]` in docket.toml, or `CLEANUP_<NAME>_CRON`). Passing a target of the same
 * name in the `cleanup` option replaces the built-in one.
 */

/** Options shared by the built-in targets' factories. */
export interface BuiltInTargetOptions {
  schedule?: string;
  timeout?: Duration;
}

function scheduling(options: BuiltInTargetOptions) {
  return {
    ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  };
}

/** `"86400000ms"`: a parsed duration written back in a form option schemas accept. */
function ms(value: number): string {
  return `${value}ms`;
}

/**
 * The built-in `Jobs` target: the pruner's retention per state (the queue's `pruner` options,
 * or the pruner's defaults when it is turned off), run until nothing is left to prune or the
 * timeout passes. Useful with `pruner: false` and a CronJob calling `docket cleanup Jobs`.
 *
 * @example
 * ```ts
 * new Queue({ connection, pruner: false, cleanup: [jobsTarget({ schedule: "*\/10 * * * *" })] });
 * ```
 */
export function jobsTarget(options: BuiltInTargetOptions = {}): CleanupTarget {
  return defineCleanupTarget({
    name: "Jobs",
    description: "Completed, cancelled and discarded jobs past the pruner's retention per state",
    ...scheduling(options),
    async run(ctx) {
      const settings = ctx.options.pruner === false ? undefined : ctx.options.pruner;
      const byState: Partial<Record<PrunableState, string | false>> = {};
      for (const state of prunableStates) {
        const age = settings?.maxAgeByState[state];
        if (age !== undefined) byState[state] = age === false ? false : ms(age);
      }
      const pruner = new Pruner({
        ...(settings ? { maxAge: ms(settings.maxAge) } : {}),
        maxAgeByState: byState,
        limit: ctx.batchSize * prunableStates.length,
        batchSize: ctx.batchSize,
      });
      const deleted: Record<PrunableState, number> = { completed: 0, cancelled: 0, discarded: 0 };
      let total = 0;
      for (;;) {
        if (ctx.shouldStop())
          return { deleted: total, details: { byState: deleted }, complete: false };
        const result = await pruner.runOnce({ executor: ctx.sql, schema: ctx.schema });
        for (const state of prunableStates) deleted[state] += result.byState[state];
        total += result.deleted;
        if (result.deleted < pruner.options.limit)
          return { deleted: total, details: { byState: deleted } };
      }
    },
  });
}

/** Options of {@link jobArchiveTarget}. */
export interface JobArchiveOptions extends BuiltInTargetOptions {
  /** Finished jobs older than this (by their own finish time) are archived. Default 1 day. */
  olderThan?: Duration;
  /** Which finished states to archive. Default all three. */
  states?: PrunableState[];
}

/**
 * The built-in `JobArchive` target: moves finished jobs older than `olderThan` into dated tables
 * of docket's schema (`jobs_archive_2026_11`, by the month the job finished, in UTC) instead of
 * deleting them. Pick this or the pruner (`pruner: false`), not both: whichever runs first takes
 * the jobs.
 *
 * @example
 * ```ts
 * new Queue({ connection, pruner: false, cleanup: [jobArchiveTarget({ olderThan: "7d", schedule: "0 4 * * *" })] });
 * ```
 */
export function jobArchiveTarget(options: JobArchiveOptions = {}): CleanupTarget {
  const olderThanMs = parseDuration(options.olderThan ?? "1d");
  if (olderThanMs === undefined) {
    throw new ConfigError(
      `cleanup.JobArchive.olderThan: ${JSON.stringify(options.olderThan)} is not a duration`,
      {
        path: "cleanup.JobArchive.olderThan",
      },
    );
  }
  const states = options.states ?? [...prunableStates];
  return defineCleanupTarget({
    name: "JobArchive",
    description:
      "Moves finished jobs into dated tables (jobs_archive_YYYY_MM) instead of deleting them",
    ...scheduling(options),
    async run(ctx) {
      const [info] = await run(ctx.sql, describeTable(ctx.schema, "jobs"));
      if (!info)
        throw new Error(
          `docket's jobs table is missing from schema ${ctx.schema}; run migrate first`,
        );
      const table: BatchTable = {
        schema: info.schema,
        name: info.name,
        columns: info.columns.map((c) => c.name),
        key: ["id"],
      };
      const [clock] = await run(ctx.sql, databaseNow());
      const cutoff = new Date((clock as { now: Date }).now.getTime() - olderThanMs);
      const progress: BatchProgress = { deleted: 0, batches: 0, archived: {} };
      const loop = {
        sql: ctx.sql,
        table,
        batchSize: ctx.batchSize,
        shouldStop: () => ctx.shouldStop(),
        progress,
      };
      let complete = true;
      for (const state of states) {
        // The state as a literal, so that the planner uses its partial index jobs_prune_<state>_idx.
        const where = sql`t.state = ${sql.lit(state)}`;
        const date = col(`${state}_at`);
        const candidates = (limit: number, within?: { from: Date; until: Date }) =>
          olderThanCandidates(table, {
            date,
            cutoff,
            where,
            ordered: true,
            limit,
            ...(within ? { within } : {}),
          });
        complete = await archiveInBatches(loop, candidates, {
          prefix: "jobs_archive",
          period: "month",
        });
        if (!complete) break;
      }
      return {
        deleted: progress.deleted,
        details: {
          cutoff: cutoff.toISOString(),
          batches: progress.batches,
          archived: progress.archived,
        },
        complete,
      };
    },
  });
}

/**
 * The built-in `Producers` target: deletes the heartbeat rows of producers that stopped beating
 * longer ago than `heartbeat.timeout` (the leader does this on its own too; the target lets a
 * CronJob or an operator do it).
 */
export function producersTarget(options: BuiltInTargetOptions = {}): CleanupTarget {
  return defineCleanupTarget({
    name: "Producers",
    description: "Heartbeat rows of producers that stopped beating (nodes gone)",
    ...scheduling(options),
    async run(ctx) {
      const rows = await deleteStaleProducerRows(
        ctx.sql,
        ctx.schema,
        ctx.options.heartbeat.timeout,
      );
      return {
        deleted: rows.length,
        details: { producers: rows.map((r) => `${r.node}/${r.queue}`) },
      };
    },
  });
}

/** The built-in targets with their defaults, in the order `docket cleanup --list` shows them. */
export function builtInTargets(): CleanupTarget[] {
  return [jobsTarget(), jobArchiveTarget(), databaseMaintenanceTarget(), producersTarget()];
}
