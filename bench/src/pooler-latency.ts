// Single-job latency through PgBouncer (transaction mode, `connection: { url, prepare: false }`,
// `listen: directUrl`) against a direct connection: one job at a time into an idle queue, from
// the insert call to the start of `perform`. Rounds of the two alternate, so that a busy
// machine weighs on both alike. Prints p50/p99 per mode (docs/poolers.md).
//
//   npx -y pnpm@10 run build && cd bench && npx tsx src/pooler-latency.ts
//   BENCH_POOLER_JOBS=400 (jobs per mode, default 200)

import { defineWorker, Queue } from "docket";
import postgres from "postgres";
import { startPgBouncer } from "../../test/support/pgbouncer.js";
import { startBenchServer } from "./postgres-server.js";
import { percentile } from "./stats.js";

const jobsPerMode = Number(process.env.BENCH_POOLER_JOBS ?? 200);
const rounds = 4;

const server = await startBenchServer();
const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
await admin`DROP DATABASE IF EXISTS docket_pooler_bench`;
await admin`CREATE DATABASE docket_pooler_bench`;
await admin.end();
const direct = new URL(server.adminUrl);
direct.pathname = "/docket_pooler_bench";
const directUrl = direct.toString();
const bouncer = await startPgBouncer(directUrl, "transaction");

let started: (() => void) | undefined;
const ping = defineWorker({
  name: "bench.ping",
  async perform() {
    started?.();
  },
});

const modes = {
  direct: { connection: directUrl },
  pgbouncer: {
    connection: { url: bouncer.via(directUrl), prepare: false },
    listen: directUrl,
  },
} as const;

const samples: Record<keyof typeof modes, number[]> = { direct: [], pgbouncer: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(modes) as (keyof typeof modes)[]) {
      // A long poll interval: only NOTIFY wakes the queue, as in production.
      const queue = new Queue({
        ...modes[name],
        workers: [ping],
        queues: { default: 1 },
        pollInterval: 30,
        leadership: false,
      });
      await queue.migrate();
      await queue.start();
      for (let i = 0; i < jobsPerMode / rounds; i++) {
        const ran = new Promise<void>((resolve) => {
          started = resolve;
        });
        const t0 = performance.now();
        await queue.insert(ping, {});
        await ran;
        samples[name].push(performance.now() - t0);
      }
      await queue.stop({ grace: 1 });
    }
  }
} finally {
  await bouncer.stop();
  await server.stop();
}

console.log(
  `single-job latency, insert to perform, ${jobsPerMode} jobs per mode (${bouncer.version})`,
);
for (const [name, values] of Object.entries(samples)) {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50).toFixed(2);
  const p99 = percentile(sorted, 99).toFixed(2);
  console.log(`${name.padEnd(10)} p50 ${p50} ms  p99 ${p99} ms  (n=${sorted.length})`);
}
