// Latency on an idle worker: single inserts at a steady rate, from the moment each insert's
// commit is acknowledged to the moment its handler starts. With `afterDrain`, measured on the
// same database right after a burst of that many jobs was bulk-inserted, analyzed and drained:
// the table then holds that many finished rows (a peer that deletes them holds dead tuples),
// and the statistics still describe them as waiting.

import postgres from "postgres";

import { percentile } from "../stats.js";
import type { BenchSystem } from "../systems/types.js";
import { Ledger, pollUntil } from "./checks.js";
import { withFinished } from "./throughput.js";

/** What one latency trial measured, in milliseconds. */
export interface LatencyResult {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** The same from just before the insert was sent, i.e. including the insert's round trip. */
  sendP50: number;
  sendP99: number;
  lost: number;
  duplicates: number;
}

const warmup = 20;
/** Job numbers of the burst before an after-drain trial: apart from the measured ones. */
const burstBase = 100_000_000;

/** One latency trial on an idle worker. */
export async function runLatency(
  system: BenchSystem,
  params: {
    url: string;
    jobs: number;
    rate: number;
    concurrency: number;
    afterDrain?: number;
    finished?: number;
  },
): Promise<LatencyResult> {
  const { jobs, rate, concurrency } = params;
  const burst = params.afterDrain ?? 0;
  await system.setup();
  await withFinished(system, params.url, params.finished ?? 0);
  const ledger = new Ledger();
  if (burst > 0) {
    await system.insertBulk(burstBase, burst);
    const sql = postgres(params.url, { max: 1, onnotice: () => {} });
    await sql`ANALYZE`;
    await sql.end();
  }
  await system.startWorkers({ concurrency, onJob: (i) => ledger.record(i) });
  if (burst > 0) {
    await ledger.waitFor(burst, 300_000);
    await pollUntil(async () => (await system.unfinished()) === 0, 60_000, 10);
  }

  // Warm up connections and prepared statements; these jobs are not measured.
  for (let k = 0; k < warmup; k++) {
    await system.insertOne(-1 - k);
    await ledger.waitFor(burst + k + 1, 30_000);
  }

  const committedAt = new Map<number, number>();
  const sentAt = new Map<number, number>();
  const periodMs = 1000 / rate;
  const begin = performance.now();
  for (let i = 0; i < jobs; i++) {
    const due = begin + i * periodMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    sentAt.set(i, performance.now());
    await system.insertOne(i);
    committedAt.set(i, performance.now());
  }
  await ledger.waitFor(burst + jobs + warmup, 30_000);
  await pollUntil(async () => (await system.unfinished()) === 0, 30_000, 10);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const measured = ledger.integrity(jobs);
  const drained = ledger.integrity(burst, burstBase);
  const lost = measured.lost + drained.lost;
  const duplicates = measured.duplicates + drained.duplicates;
  await system.stop();

  const fromCommit: number[] = [];
  const fromSend: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const started = ledger.startedAt.get(i);
    if (started === undefined) continue;
    fromCommit.push(started - (committedAt.get(i) as number));
    fromSend.push(started - (sentAt.get(i) as number));
  }
  fromCommit.sort((a, b) => a - b);
  fromSend.sort((a, b) => a - b);
  return {
    p50: percentile(fromCommit, 50),
    p95: percentile(fromCommit, 95),
    p99: percentile(fromCommit, 99),
    max: fromCommit[fromCommit.length - 1] ?? Number.NaN,
    sendP50: percentile(fromSend, 50),
    sendP99: percentile(fromSend, 99),
    lost,
    duplicates,
  };
}
