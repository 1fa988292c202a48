// pg-boss under test: LISTEN/NOTIFY on (instance useListenNotify, queue notify), batched fetch
// with burst mode, and at most `concurrency` jobs in flight (batchSize × localConcurrency).

import { PgBoss } from "pg-boss";
import postgres, { type Sql } from "postgres";
import type { BenchSystem, WorkerSettings } from "./types.js";

const queue = "bench";

/**
 * How the `concurrency` jobs in flight are split: `batch` jobs per fetch and per handler call,
 * `concurrency / batch` handlers at once. Override with BENCH_PGBOSS_BATCH.
 */
function split(concurrency: number): { batchSize: number; localConcurrency: number } {
  const batchSize = Math.min(concurrency, Number(process.env.BENCH_PGBOSS_BATCH ?? concurrency));
  return { batchSize, localConcurrency: Math.max(1, Math.floor(concurrency / batchSize)) };
}

/** pg-boss on the database at `url`, with LISTEN/NOTIFY and batched fetch. */
export function createPgBoss(url: string): BenchSystem {
  const boss = new PgBoss({
    connectionString: url,
    useListenNotify: true,
    schedule: false,
    max: 10,
  });
  boss.on("error", () => {});
  const admin: Sql = postgres(url, { max: 1, onnotice: () => {} });
  let started = false;

  return {
    name: "pg-boss",
    settings: {
      useListenNotify: true,
      queue: { notify: true },
      work: { ...split(10), burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
    },
    async setup() {
      await boss.start();
      started = true;
      await boss.createQueue(queue, { notify: true });
    },
    async insertBulk(from, count) {
      const jobs = Array.from({ length: count }, (_, k) => ({ data: { i: from + k } }));
      await boss.insert(queue, jobs);
    },
    async insertOne(i) {
      await boss.send(queue, { i });
    },
    async startWorkers(settings: WorkerSettings) {
      const { batchSize, localConcurrency } = split(settings.concurrency);
      await boss.work<{ i: number }>(
        queue,
        { batchSize, localConcurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
        async (jobs) => {
          await Promise.all(jobs.map((job) => settings.onJob(job.data.i)));
        },
      );
    },
    async unfinished() {
      const [row] = await admin<{ n: number }[]>`
        SELECT count(*)::integer AS n FROM pgboss.job WHERE name = ${queue} AND state <> 'completed'`;
      return row?.n ?? 0;
    },
    async stop() {
      if (started) await boss.stop({ graceful: true, timeout: 5000 });
      await admin.end();
    },
  };
}
