// How long a cancel takes to reach the node running the job: from calling `cancelJob` on one
// queue (its round trip included) to the job's signal aborting on another, through the control
// channel's NOTIFY, over N jobs.
// The tests check that the abort comes (packages/docket/src/control/queue-control.test.ts); this
// prints how fast. Usage: DATABASE_URL=postgres://… node bench/cancel-latency.mjs [jobs]
// (a scratch database: it migrates schema "bench_cancel" and drops it at the end)
import postgres from "postgres";
import { defineWorker, Queue } from "../packages/docket/dist/index.js";

const jobs = Number(process.argv[2] ?? 50);
const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL");
const schema = "bench_cancel";
let onStart = () => {};
let onAbort = () => {};
const waits = defineWorker({
  name: "bench.cancel",
  queue: "cancel",
  perform: (_job, { signal }) =>
    new Promise((_resolve, reject) => {
      signal.addEventListener("abort", () => {
        onAbort();
        reject(signal.reason);
      });
      onStart();
    }),
});
const runner = new Queue({
  connection: url,
  schema,
  poolSize: 2,
  queues: { cancel: 1 },
  workers: [waits],
});
const admin = new Queue({ connection: url, schema, poolSize: 2 });
await runner.migrate();
await runner.start();
const times = [];
for (let i = 0; i < jobs; i++) {
  const started = new Promise((resolve) => {
    onStart = resolve;
  });
  const aborted = new Promise((resolve) => {
    onAbort = () => resolve(performance.now());
  });
  const job = await admin.insert(waits, {});
  await started;
  const cancelledAt = performance.now();
  await admin.cancelJob(job.id);
  times.push((await aborted) - cancelledAt);
  while (runner.checkQueue("cancel")?.running) await new Promise((r) => setTimeout(r, 5));
}
times.sort((a, b) => a - b);
const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
console.log(
  `cancel to abort on the running node, ${jobs} jobs: median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`,
);
await runner.stop();
await admin.stop();
const sql = postgres(url, { max: 1, onnotice: () => {} });
await sql`DROP SCHEMA ${sql(schema)} CASCADE`;
await sql.end();
