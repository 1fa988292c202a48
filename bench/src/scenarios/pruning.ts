// Pruning a large backlog of finished jobs while live jobs run. The same database content is
// prepared twice (one database per trial): once the live jobs run alone, once the pruner runs
// flat out (runOnce back to back) at the same time. The live throughput of the two is compared.
// On the partitioned layout the backlog sits in day partitions, which the pruner drops.

import postgres, { type Sql } from "postgres";
import { loadDocket } from "../systems/docket.js";
import { createSystem } from "../systems/index.js";
import { checkpoint, Ledger, pollUntil } from "./checks.js";
import { seedFinished } from "./seed-finished.js";

/** What one pruning trial measured. */
export interface PruningResult {
  withPruner: boolean;
  /** Live jobs per second, first start to last durable completion. */
  liveJobsPerSec: number;
  /** Rows removed per second over the pruner's whole run (null without the pruner). */
  prunedRowsPerSec: number | null;
  /** The pruner's whole run, until no old job was left (null without the pruner). */
  pruneMs: number | null;
  /** Whether the pruner was still running when the last live job completed. */
  prunerOutlastedLive: boolean | null;
  /**
   * Bytes of `docket.jobs` (heap alone, and with its indexes and TOAST) after seeding, after
   * the pruner deleted the old jobs, and after a plain VACUUM then (with the pruner only): the
   * bloat that pruning by DELETE leaves.
   */
  sizes: {
    heapBefore: number;
    totalBefore: number;
    heapPruned: number;
    totalPruned: number;
    heapVacuumed: number;
    totalVacuumed: number;
  } | null;
  lost: number;
  duplicates: number;
}

/** Bytes of the jobs table's heap, and with its indexes and TOAST (all partitions, if any). */
async function jobsSize(sql: Sql): Promise<{ heap: number; total: number }> {
  const [row] = await sql<{ heap: string; total: string }[]>`
    SELECT coalesce(sum(pg_relation_size(t.relid)), 0) AS heap,
      coalesce(sum(pg_total_relation_size(t.relid)), 0) AS total
    FROM (
      SELECT relid FROM pg_partition_tree('docket.jobs') WHERE isleaf
      UNION ALL -- the plain table is no partition tree
      SELECT 'docket.jobs'::regclass WHERE NOT EXISTS (SELECT FROM pg_partition_tree('docket.jobs'))
    ) AS t`;
  return { heap: Number(row?.heap ?? 0), total: Number(row?.total ?? 0) };
}

/** One pruning run against the database: the rows it deleted, the partitions it dropped. */
type PruneOnce = (sql: Sql) => Promise<{ deleted: number; dropped: number }>;

/**
 * Prunes with docket's own `Pruner` (default options: batches of 1,000, up to 10,000 a run).
 * `BENCH_PRUNER_OPTIONS` (JSON) overrides its options.
 */
async function docketPruner(): Promise<PruneOnce> {
  const Pruner = ((await loadDocket()) as Record<string, unknown>).Pruner as
    | (new (
        options: Record<string, unknown>,
      ) => {
        runOnce(target: {
          executor: Sql;
          schema: string;
        }): Promise<{ deleted: number; partitions?: { dropped: string[] } }>;
      })
    | undefined;
  if (!Pruner) throw new Error("docket does not export Pruner: build the library first");
  const extra = process.env.BENCH_PRUNER_OPTIONS;
  const pruner = new Pruner({ maxAge: "1d", ...(extra ? JSON.parse(extra) : {}) });
  return async (sql) => {
    const result = await pruner.runOnce({ executor: sql, schema: "docket" });
    return { deleted: result.deleted, dropped: result.partitions?.dropped.length ?? 0 };
  };
}

/** One pruning trial on a fresh database: seeds, then runs the live jobs with or without the pruner. */
export async function runPruning(params: {
  url: string;
  rows: number;
  liveJobs: number;
  withPruner: boolean;
  partitioned: boolean;
}): Promise<PruningResult> {
  const { url, rows, liveJobs, withPruner, partitioned } = params;
  const system = await createSystem(partitioned ? "docket-partitioned" : "docket", url);
  await system.setup();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  try {
    if (partitioned) {
      // The days the backlog finished on, as the leader would have created them back then.
      await sql`
        SELECT docket.jobs_create_day_partition('completed', d::date)
        FROM generate_series((now() AT TIME ZONE 'UTC')::date - 4,
          (now() AT TIME ZONE 'UTC')::date - 1, interval '1 day') AS d`;
    }
    // Half three days old, half two: two days to drop on the partitioned layout.
    await seedFinished(sql, Math.floor(rows / 2), 72);
    await seedFinished(sql, rows - Math.floor(rows / 2), 48);
    await system.insertBulk(0, liveJobs);
    await sql`VACUUM ANALYZE docket.jobs`;
    const before = await jobsSize(sql);
    await checkpoint(url);

    const pruneOnce = await docketPruner();
    let prunerDone = false;
    let pruning: Promise<number> | undefined;
    const ledger = new Ledger();
    const liveDone = async () => {
      const [row] = await sql<{ n: number }[]>`
        SELECT count(*)::integer AS n FROM docket.jobs WHERE state <> 'completed'`;
      return row?.n === 0;
    };

    // The node's own leader would prune at once as it starts, in both trials.
    const onJob = (i: number) => ledger.record(i);
    await system.startWorkers({ concurrency: 10, onJob, withoutPruner: true });
    if (withPruner) {
      const oldLeft = async () => {
        const [row] = await sql<{ left: boolean }[]>`
          SELECT EXISTS (SELECT 1 FROM docket.jobs WHERE state = 'completed'
            AND completed_at < now() - interval '1 day') AS left`;
        return row?.left ?? false;
      };
      pruning = (async () => {
        const begin = performance.now();
        for (;;) {
          const { deleted, dropped } = await pruneOnce(sql);
          if (deleted > 0 || dropped > 0) continue;
          // A drop that timed out on its lock is tried again by the next run.
          if (!(await oldLeft())) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        prunerDone = true;
        return performance.now() - begin;
      })();
    }
    await ledger.waitFor(liveJobs, 300_000);
    const doneAt = await pollUntil(liveDone, 60_000);
    const outlasted = withPruner ? !prunerDone : null;
    const liveMs = doneAt - ledger.firstAt;
    const pruneMs = pruning ? await pruning : null;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { lost, duplicates } = ledger.integrity(liveJobs);
    await system.stop();

    const [left] = await sql<{ finished: number; live: number }[]>`
      SELECT count(*) FILTER (WHERE attempted_by = 'seed')::integer AS finished,
             count(*) FILTER (WHERE attempted_by IS DISTINCT FROM 'seed')::integer AS live
      FROM docket.jobs`;
    if (withPruner && left?.finished !== 0)
      throw new Error(`${left?.finished} old jobs left unpruned`);
    const liveLost = liveJobs - (left?.live ?? 0);
    let sizes: PruningResult["sizes"] = null;
    if (withPruner) {
      const pruned = await jobsSize(sql);
      await sql`VACUUM docket.jobs`;
      const vacuumed = await jobsSize(sql);
      sizes = {
        heapBefore: before.heap,
        totalBefore: before.total,
        heapPruned: pruned.heap,
        totalPruned: pruned.total,
        heapVacuumed: vacuumed.heap,
        totalVacuumed: vacuumed.total,
      };
    }
    return {
      withPruner,
      liveJobsPerSec: (liveJobs / liveMs) * 1000,
      prunedRowsPerSec: pruneMs === null ? null : (rows / pruneMs) * 1000,
      pruneMs,
      prunerOutlastedLive: outlasted,
      sizes,
      lost: lost + liveLost,
      duplicates,
    };
  } finally {
    await sql.end();
  }
}
