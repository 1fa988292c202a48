import type { TransactionSql } from "postgres";
import { forgetLayout, jobsLayoutOf } from "../db/layout-cache.js";
import { isLockTimeout } from "../errors.js";
import { run } from "../sql/executor.js";
import {
  createDayPartition,
  detachDayPartitions,
  dropDetachedPartitions,
  missingDayPartitions,
  type PartitionedState,
} from "../sql/maintenance/partitions.js";
import { type PrunableState, prunableStates, pruneJobs } from "../sql/maintenance/prune-rescue.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { LeaderService } from "./leader-service.js";
import {
  type ParsedPrunerOptions,
  type PrunerOptions,
  prunerOptionsSchema,
} from "./maintenance-options.js";
import type { PruneResult } from "./maintenance-results.js";
import type { MaintenanceTarget, PluginContext } from "./plugin.js";

/**
 * The built-in pruner: deletes `completed`, `cancelled` and `discarded` jobs once they are
 * older than `maxAge` (or their state's `maxAgeByState`), each judged by its own timestamp, at
 * most `limit` a run, in batches of `batchSize` that each hold their locks only briefly. It
 * never touches jobs in any other state. The queue runs it on the leader every `interval` and
 * emits `maintenance:prune` with each run's result.
 *
 * On the partitioned layout (docs/scaling.md) it also creates the day partitions of today to
 * two days ahead, one per transaction, and drops the days of a state that ended `maxAge` (or the
 * state's `maxAgeByState`) ago whole instead of deleting their jobs: retention is then kept to
 * the day, up to one day longer than asked. Only the default partitions are pruned by DELETE.
 *
 * @example
 * ```ts
 * // Usually configured through the queue:
 * new Queue({ connection, pruner: { maxAge: "1d", maxAgeByState: { discarded: "7d" } } });
 * // Or run by hand, e.g. from a script:
 * const { deleted, byState } = await new Pruner({ maxAge: "1h" }).runOnce({ executor: sql, schema: "docket" });
 * ```
 */
export class Pruner extends LeaderService<PruneResult> {
  readonly name = "pruner";
  /** The options after parsing, durations in milliseconds. */
  readonly options: Readonly<ParsedPrunerOptions>;

  /** When the partitions were last looked after, and whether that left some for later. */
  #keptAt = 0;
  #keepLeft = false;

  /** Set while {@link Pruner.fromParsed} constructs: options the queue's schema parsed already. */
  static #parsed: Readonly<ParsedPrunerOptions> | undefined;

  /**
   * A pruner of options that `queueOptionsSchema` has parsed already (durations in
   * milliseconds), taken as they are: the queue's parse is the only one.
   *
   * @example
   * ```ts
   * const pruner = Pruner.fromParsed(queue.options.pruner);
   * ```
   */
  static fromParsed(options: Readonly<ParsedPrunerOptions>): Pruner {
    Pruner.#parsed = Object.freeze(options);
    try {
      return new Pruner();
    } finally {
      Pruner.#parsed = undefined;
    }
  }

  /** @throws ConfigError naming the offending `pruner.*` option. */
  constructor(options: PrunerOptions = {}) {
    super();
    this.options = Pruner.#parsed ?? parsePrunerOptions(options);
  }

  protected loopOptions(context: PluginContext) {
    return {
      intervalMs: this.options.interval,
      onResult: (result: PruneResult, durationMs: number) =>
        context.emit("maintenance:prune", { ...result, durationMs }),
    };
  }

  /**
   * Prunes once: up to `limit` jobs, taking one batch of each state in turn so that a large
   * backlog of one state does not starve the others. Uses the started queue's database unless
   * `target` is given.
   */
  async runOnce(given?: MaintenanceTarget): Promise<PruneResult> {
    const target = this.targetOf(given);
    const { limit, batchSize } = this.options;
    const byState: Record<PrunableState, number> = { completed: 0, cancelled: 0, discarded: 0 };
    let pending: PrunableState[] = prunableStates.filter((state) => this.maxAgeOf(state) !== false);
    // Read afresh each run: a schema partitioned under a running node (`Migrator.partition()`)
    // has its days dropped from the next run on, not deleted row by row until a restart.
    forgetLayout(target.executor, target.schema);
    const partitioned = (await jobsLayoutOf(target.executor, target.schema)) === "partitioned";
    // Days change once a day: the partitions are looked after once a minute, or at once again
    // after a run that had to leave some of it for later.
    const keep = partitioned && (this.#keepLeft || Date.now() - this.#keptAt >= keepIntervalMs);
    const partitions = keep ? await this.#keepPartitions(target, pending) : undefined;
    let deleted = 0;
    while (pending.length > 0 && deleted < limit) {
      const next: PrunableState[] = [];
      for (const state of pending) {
        const batch = Math.min(batchSize, limit - deleted);
        if (batch <= 0) break;
        const maxAge = this.maxAgeOf(state) as number;
        const table = partitioned ? `jobs_${state}_default` : "jobs";
        const count = await pruneBatch(target, state, maxAge, batch, table);
        byState[state] += count;
        deleted += count;
        if (count === batch) next.push(state);
      }
      pending = next;
    }
    return partitioned
      ? { deleted, byState, partitions: partitions ?? { dropped: [], created: [] } }
      : { deleted, byState };
  }

  /** Creates the day partitions ahead and drops the days past retention of `states`. */
  async #keepPartitions(
    { executor, schema }: MaintenanceTarget,
    states: PrunableState[],
  ): Promise<{ dropped: string[]; created: string[] }> {
    // Creating or detaching locks a state's table (ACCESS EXCLUSIVE) until its commit, and acks
    // queue behind a lock that waits: a transaction that cannot have it at once gives up, for the
    // next run. The lock timeout and the statement go out together (one round trip).
    let left = false;
    const briefly = <R>(body: (tx: TransactionSql) => Promise<R>) =>
      executor
        .begin(async (tx) => {
          // execute(): sent now, ahead of the statement (a query is otherwise sent when awaited).
          const timeout = tx`SELECT set_config('lock_timeout', ${partitionLockTimeout}, true)`;
          const [, result] = await Promise.all([timeout.execute(), body(tx)]);
          return result;
        })
        .then(
          (result) => result as R,
          (error: unknown) => {
            if (!isLockTimeout(error)) throw error;
            left = true;
            return undefined;
          },
        );
    const created: string[] = [];
    // Today and two days ahead, by the database's clock, which stamps the jobs.
    for (const { state, day } of await run(executor, missingDayPartitions(schema, null, 3))) {
      const rows = await briefly((tx) => run(tx, createDayPartition(schema, state, day)));
      if (rows?.[0]?.created) created.push(`jobs_${state}_${day.replaceAll("-", "")}`);
    }
    // Every state's days in one transaction, then every detached day in one statement, which
    // also drops days an earlier run detached but could not drop.
    const retention: Partial<Record<PartitionedState, number>> = {};
    for (const state of states) retention[state] = this.maxAgeOf(state) as number;
    if (states.length > 0) await briefly((tx) => run(tx, detachDayPartitions(schema, retention)));
    const dropped: string[] = [];
    for (;;) {
      const rows = await run(executor, dropDetachedPartitions(schema, dropsPerStatement));
      dropped.push(...rows.map((row) => row.name));
      if (rows.length < dropsPerStatement) break;
    }
    this.#keptAt = Date.now();
    this.#keepLeft = left;
    return { dropped, created };
  }

  /** The retention of `state` in milliseconds, or `false` when it is kept for ever. */
  maxAgeOf(state: PrunableState): number | false {
    return this.options.maxAgeByState[state] ?? this.options.maxAge;
  }
}

/** Parses and freezes options given to `new Pruner()`. */
function parsePrunerOptions(options: PrunerOptions): Readonly<ParsedPrunerOptions> {
  const parsed = prunerOptionsSchema.safeParse(options);
  if (!parsed.success) throw zodToConfigError(parsed.error, "pruner", prunerOptionsSchema);
  return Object.freeze(parsed.data);
}

/** How often the partitioned layout's day partitions are looked after. */
const keepIntervalMs = 60_000;

/**
 * Day partitions dropped per statement: a backlog of days (a leader down for weeks) is dropped in
 * several short statements, not one that a `statement_timeout` could undo whole every run.
 */
const dropsPerStatement = 16;

/** How long creating or detaching a day partition waits for its lock before it is left for later. */
const partitionLockTimeout = "100ms";

/** How long a plain DELETE of the pruner waits for a row lock before it skips locked rows. */
const pruneLockTimeout = "50ms";

/**
 * Deletes one batch. Finished jobs are rarely locked (an admin call, another pruner), so the plain
 * DELETE comes first: it writes each row once. Should it wait on a lock for longer than
 * `pruneLockTimeout`, the batch is done again with SKIP LOCKED, which writes each row twice (lock,
 * then delete) but never waits.
 */
async function pruneBatch(
  target: MaintenanceTarget,
  state: PrunableState,
  maxAgeMs: number,
  limit: number,
  table: string,
): Promise<number> {
  const { executor, schema } = target;
  try {
    const [row] = await executor.begin(async (tx) => {
      await tx`SELECT set_config('lock_timeout', ${pruneLockTimeout}, true)`;
      return run(tx, pruneJobs(schema, state, maxAgeMs, limit, false, table));
    });
    return row?.deleted ?? 0;
  } catch (error) {
    if (!isLockTimeout(error)) throw error;
    const [row] = await run(executor, pruneJobs(schema, state, maxAgeMs, limit, true, table));
    return row?.deleted ?? 0;
  }
}
