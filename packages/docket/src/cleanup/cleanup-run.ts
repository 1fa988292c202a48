import { randomUUID } from "node:crypto";
import type { Sql } from "postgres";
import { CleanupLockedError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import type { ParsedQueueOptions } from "../queue-options.js";
import { run } from "../sql/executor.js";
import {
  type BatchTable,
  claimCleanupLease,
  col,
  countDated,
  databaseNow,
  olderThanCandidates,
  overfullPartitions,
  releaseCleanupLease,
  surplusCandidates,
} from "../sql/maintenance/cleanup.js";
import type { JsonValue } from "../types.js";
import { setLongTimeout } from "../validation/long-timer.js";
import {
  archiveInBatches,
  type BatchLoop,
  type BatchProgress,
  deleteInBatches,
} from "./cleanup-batches.js";
import { resolveTargetTable } from "./cleanup-catalog.js";
import type { CleanupContext, CleanupTarget } from "./define-target.js";

/**
 * The result of one run of a cleanup target, as kept in its job's `meta.result` and printed by
 * `docket cleanup --json`.
 */
export interface CleanupResult {
  target: string;
  /** True when the run did all there was to do; false when it timed out, was stopped or failed. */
  success: boolean;
  /** Rows removed from the table (deleted, or moved to archive tables). */
  totalDeleted: number;
  /** What the strategy reports: cutoff, batches, groups, archive tables… */
  details: Record<string, JsonValue>;
  durationMs: number;
  /** True when the timeout stopped the run between batches; the counts say how far it got. */
  timedOut: boolean;
  /** The error that ended the run, if one did. */
  error?: string;
}

/** How to run a target once. */
export interface CleanupRunOptions {
  /** docket's postgres.js client; the lock takes one of its connections for the run. */
  sql: Sql;
  /** The schema holding docket's tables. */
  schema: string;
  /** The options of the queue the target belongs to (built-in targets read them). */
  options: Readonly<ParsedQueueOptions>;
  logger?: Logger;
  /** Overrides the target's timeout (milliseconds). */
  timeoutMs?: number | undefined;
  /** Overrides the target's batch size. */
  batchSize?: number | undefined;
  /** Stops the run between batches, as the timeout does (a job's signal: shutdown, cancel). */
  signal?: AbortSignal | undefined;
  /** How long to wait for another run of the target to finish. Default 0: fail at once. */
  waitForLockMs?: number | undefined;
}

/**
 * Runs a cleanup target once, now, under its lease: while one run of a target works, in
 * any process on the database, another fails with {@link CleanupLockedError} (after waiting up to
 * `waitForLockMs`). Errors of the run itself come back in the result, with the counts so far.
 *
 * @example
 * ```ts
 * const result = await runCleanup(logRecords, { sql, schema: "docket", options: queue.options, timeoutMs: 600_000 });
 * ```
 */
export async function runCleanup(
  target: CleanupTarget,
  options: CleanupRunOptions,
): Promise<CleanupResult> {
  const started = performance.now();
  const releaseLock = await holdLease(
    options.sql,
    options.schema,
    target.name,
    options.waitForLockMs ?? 0,
  );
  const timeoutMs = options.timeoutMs ?? target.timeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setLongTimeout(() => {
          timedOut = true;
          controller.abort(
            new Error(`cleanup target ${target.name} timed out after ${timeoutMs}ms`),
          );
        }, timeoutMs);
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const progress: BatchProgress = { deleted: 0, batches: 0, archived: {} };
  const details: Record<string, JsonValue> = {};
  let complete = false;
  let error: string | undefined;
  try {
    const table = await resolveTargetTable(options.sql, target, options.schema);
    if (table) details.table = `${table.schema}.${table.name}`;
    complete = await runStrategy(
      target,
      table,
      { ...options, signal: controller.signal },
      progress,
      details,
    );
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    timer?.clear();
    options.signal?.removeEventListener("abort", onAbort);
    await releaseLock();
  }
  if (progress.batches > 0) details.batches = progress.batches;
  if (target.archive) details.archived = progress.archived;
  if (!complete && !error && !timedOut) details.stopped = "aborted";
  const result: CleanupResult = {
    target: target.name,
    success: complete && error === undefined,
    totalDeleted: progress.deleted,
    details,
    durationMs: Math.round(performance.now() - started),
    timedOut: timedOut && !complete,
  };
  if (error !== undefined) result.error = error;
  (options.logger ?? silentLogger).info("docket cleanup finished", { ...result });
  return result;
}

/** How long a cleanup run's lease lasts unless renewed (every third of it): a crashed run's
 * target is free again after this. */
const leaseTtlMs = 30_000;

/**
 * Takes the target's lease (waiting up to `waitMs` for another run to finish) and keeps renewing
 * it until the returned function gives it up.
 */
async function holdLease(
  sql: Sql,
  schema: string,
  target: string,
  waitMs: number,
): Promise<() => Promise<void>> {
  const holder = `run ${randomUUID()}`;
  const claim = async () =>
    (await run(sql, claimCleanupLease(schema, target, holder, leaseTtlMs))).length > 0;
  const deadline = Date.now() + waitMs;
  while (!(await claim())) {
    if (Date.now() >= deadline) throw new CleanupLockedError(target);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(1000, Math.max(10, deadline - Date.now()))),
    );
  }
  // A renewal that fails is retried at the next tick; the lease outlives two missed ones.
  const renewal = setInterval(() => void claim().catch(() => {}), leaseTtlMs / 3);
  renewal.unref?.();
  return async () => {
    clearInterval(renewal);
    // A release that fails leaves the lease to expire.
    await run(sql, releaseCleanupLease(schema, target, holder)).catch(() => {});
  };
}

type StrategyOptions = CleanupRunOptions & { signal: AbortSignal };

/** Runs the target's strategy, filling in `progress` and `details`; true when it finished. */
async function runStrategy(
  target: CleanupTarget,
  table: BatchTable | undefined,
  options: StrategyOptions,
  progress: BatchProgress,
  details: Record<string, JsonValue>,
): Promise<boolean> {
  const { strategy, archive } = target;
  const { sql, signal } = options;
  const batchSize = options.batchSize ?? target.batchSize;
  const shouldStop = () => signal.aborted;
  if (strategy.kind === "custom") {
    const context: CleanupContext = {
      sql,
      schema: options.schema,
      target: target.name,
      table,
      batchSize,
      signal,
      logger: options.logger ?? silentLogger,
      options: options.options,
      shouldStop,
    };
    const outcome = await strategy.run(context);
    progress.deleted = outcome.deleted;
    Object.assign(details, outcome.details ?? {});
    return outcome.complete ?? !signal.aborted;
  }
  if (!table) throw new Error(`cleanup target ${target.name} has no table`);
  const loop: BatchLoop = { sql, table, batchSize, shouldStop, progress };
  const [clock] = await run(sql, databaseNow());
  const now = (clock as { now: Date }).now;

  if (strategy.kind === "maxAge" || strategy.kind === "expired") {
    const cutoff = new Date(
      now.getTime() - (strategy.kind === "maxAge" ? strategy.olderThanMs : 0),
    );
    details.cutoff = cutoff.toISOString();
    const date = col(strategy.column);
    const ordered = archive !== undefined;
    const candidates = (limit: number, within?: { from: Date; until: Date }) =>
      olderThanCandidates(
        table,
        within ? { date, cutoff, within, ordered, limit } : { date, cutoff, ordered, limit },
      );
    return archive
      ? archiveInBatches(loop, candidates, archive)
      : deleteInBatches(loop, candidates);
  }

  const { count, partitionBy, orderBy } = strategy;
  const groups = await run(sql, overfullPartitions(table, partitionBy, count));
  details.groups = groups.length;
  let groupsDone = 0;
  details.groupsDone = groupsDone;
  for (const group of groups) {
    const partition = Object.fromEntries(
      partitionBy.map((column, i) => [column, group.values[i] ?? null]),
    );
    const walk = (undated: boolean, keep: number) => {
      const candidates = (limit: number) =>
        surplusCandidates(table, {
          partition,
          orderBy,
          count: keep,
          limit,
          undated,
          ...(archive ? { undatedDate: now } : {}),
        });
      return archive
        ? archiveInBatches(loop, candidates, archive)
        : deleteInBatches(loop, candidates);
    };
    // The newest dated rows first; rows without a date share what is left of the quota.
    if (!(await walk(false, count))) return false;
    const [dated] = await run(sql, countDated(table, partition, orderBy, count));
    if (!(await walk(true, count - (dated?.count ?? 0)))) return false;
    details.groupsDone = ++groupsDone;
  }
  return true;
}
