// Pruning a large backlog of finished jobs while live jobs run. The same database content is
// prepared twice (one database per trial): once the live jobs run alone, once the pruner runs
// flat out (runOnce back to back) at the same time. The live throughput of the two is compared.

import postgres, { type Sql } from "postgres";
import { loadDocket } from "../systems/docket.js";
import { createSystem } from "../systems/index.js";
import { checkpoint, Ledger, pollUntil } from "./checks.js";

/** What one pruning trial measured. */
export interface PruningResult {
  withPruner: boolean;
  /** Live jobs per second, first start to last durable completion. */
  liveJobsPerSec: number;
  /** Rows deleted per second over the pruner's whole run (null without the pruner). */
  prunedRowsPerSec: number | null;
  pruned: number;
  /** Whether the pruner was still running when the last live job completed. */
  prunerOutlastedLive: boolean | null;
  lost: number;
  duplicates: number;
}

/** One pruning run against the database; returns the rows it deleted. */
type PruneOnce = (sql: Sql) => Promise<number>;

/**
 * Prunes with docket's own `Pruner` (default options: batches of 1,000, up to 10,000 a run).
 * `BENCH_PRUNER_OPTIONS` (JSON) overrides its options.
 */
async function docketPruner(): Promise<PruneOnce> {
  const Pruner = ((await loadDocket()) as Record<string, unknown>).Pruner as
    | (new (
        options: Record<string, unknown>,
      ) => {
        runOnce(target: { executor: Sql; schema: string }): Promise<{ deleted: number }>;
      })
    | undefined;
  if (!Pruner) throw new Error("docket does not export Pruner: build the library first");
  const extra = process.env.BENCH_PRUNER_OPTIONS;
  const pruner = new Pruner({ maxAge: "1d", ...(extra ? JSON.parse(extra) : {}) });
  return async (sql) => (await pruner.runOnce({ executor: sql, schema: "docket" })).deleted;
}

/** Fills the table with `rows` completed jobs finished two days ago. */
async function seedFinished(sql: Sql, rows: number): Promise<void> {
  const chunk = 250_000;
  for (let from = 0; from < rows; from += chunk) {
    const count = Math.min(chunk, rows - from);
    await sql`
      INSERT INTO docket.jobs (state, queue, worker, args, attempt, scheduled_at, attempted_at,
        completed_at, attempted_by, meta)
      SELECT 'completed', 'default', 'bench.noop', jsonb_build_object('i', -g), 1,
        now() - interval '2 days', now() - interval '2 days', now() - interval '2 days' + g * interval '1 microsecond',
        'seed', '{}'
      FROM generate_series(${from + 1}::bigint, ${from + count}::bigint) AS g`;
  }
}

/** One pruning trial on a fresh database: seeds, then runs the live jobs with or without the pruner. */
export async function runPruning(params: {
  url: string;
  rows: number;
  liveJobs: number;
  withPruner: boolean;
}): Promise<PruningResult> {
  const { url, rows, liveJobs, withPruner } = params;
  const system = await createSystem("docket", url);
  await system.setup();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  try {
    await seedFinished(sql, rows);
    await system.insertBulk(0, liveJobs);
    await sql`VACUUM ANALYZE docket.jobs`;
    await checkpoint(url);

    const pruneOnce = await docketPruner();
    let pruned = 0;
    let prunerDone = false;
    let pruning: Promise<number> | undefined;
    const ledger = new Ledger();
    const liveDone = async () => {
      const [row] = await sql<{ n: number }[]>`
        SELECT count(*)::integer AS n FROM docket.jobs WHERE state <> 'completed'`;
      return row?.n === 0;
    };

    await system.startWorkers({ concurrency: 10, onJob: (i) => ledger.record(i) });
    if (withPruner) {
      pruning = (async () => {
        const begin = performance.now();
        for (;;) {
          const deleted = await pruneOnce(sql);
          pruned += deleted;
          if (deleted === 0) break;
        }
        prunerDone = true;
        return performance.now() - begin;
      })();
    }
    await ledger.waitFor(liveJobs, 300_000);
    const doneAt = await pollUntil(liveDone, 60_000);
    const outlasted = withPruner ? !prunerDone : null;
    const liveMs = doneAt - ledger.firstAt;
    const pruneMs = pruning ? await pruning : 0;
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
    return {
      withPruner,
      liveJobsPerSec: (liveJobs / liveMs) * 1000,
      prunedRowsPerSec: withPruner ? (pruned / pruneMs) * 1000 : null,
      pruned,
      prunerOutlastedLive: outlasted,
      lost: lost + liveLost,
      duplicates,
    };
  } finally {
    await sql.end();
  }
}
