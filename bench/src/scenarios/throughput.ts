// Bulk insert of N small jobs with the system's best bulk API, then processing of those jobs
// with a no-op handler: from the first handler start to the last durable completion.

import postgres from "postgres";
import type { BenchSystem } from "../systems/types.js";
import { checkpoint, Ledger, pollUntil } from "./checks.js";
import { seedFinished } from "./seed-finished.js";

/** What one throughput trial measured. */
export interface ThroughputResult {
  insertJobsPerSec: number;
  processJobsPerSec: number;
  /** Milliseconds from the last handler start to the moment the database showed all done. */
  durableLagMs: number;
  /** CPU time of this process (workers, inserter, ledger) per job while the jobs were processed. */
  clientCpuUsPerJob: number;
  lost: number;
  duplicates: number;
}

/** One throughput trial: bulk insert, then processing, on a fresh database. */
export async function runThroughput(
  system: BenchSystem,
  url: string,
  params: { jobs: number; concurrency: number; finished?: number },
): Promise<ThroughputResult> {
  const { jobs, concurrency } = params;
  await system.setup();
  await withFinished(system, url, params.finished ?? 0);
  await checkpoint(url);

  const insertStart = performance.now();
  await system.insertBulk(0, jobs);
  const insertMs = performance.now() - insertStart;
  const queued = await system.unfinished();
  if (queued !== jobs)
    throw new Error(`${system.name}: inserted ${jobs} jobs but ${queued} are queued`);
  await checkpoint(url);

  const ledger = new Ledger();
  const cpuBefore = process.cpuUsage();
  await system.startWorkers({ concurrency, onJob: (i) => ledger.record(i) });
  await ledger.waitFor(jobs, 300_000);
  const lastStart = performance.now();
  // Only now poll the database, so that polling adds no load while the jobs run.
  const doneAt = await pollUntil(async () => (await system.unfinished()) === 0, 60_000);
  const processMs = doneAt - ledger.firstAt;
  const cpu = process.cpuUsage(cpuBefore);
  // A moment for a job that might run twice to show up before the ledger is read.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { lost, duplicates } = ledger.integrity(jobs);
  await system.stop();
  return {
    insertJobsPerSec: (jobs / insertMs) * 1000,
    processJobsPerSec: (jobs / processMs) * 1000,
    durableLagMs: doneAt - lastStart,
    clientCpuUsPerJob: (cpu.user + cpu.system) / jobs,
    lost,
    duplicates,
  };
}

/**
 * Puts `finished` completed jobs in docket's table and analyzes it (docket only: the peers do
 * not keep finished jobs in the table they claim from), then checkpoints.
 */
export async function withFinished(system: BenchSystem, url: string, finished: number) {
  if (finished <= 0) return;
  if (!system.name.startsWith("docket"))
    throw new Error("finished jobs are seeded for docket only");
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // An hour old: within the pruner's retention, so the history stays in the table.
    await seedFinished(sql, finished, 1);
    await sql`VACUUM ANALYZE docket.jobs`;
  } finally {
    await sql.end();
  }
  // The seed dirtied a few hundred MB: written out now, not while the trial measures.
  await checkpoint(url);
}
