// How much memory one large insertMany takes (docs/reliability.md, "Bad input"): N jobs of
// about 1 KB of args each, in one call, on a fresh schema. Prints the peak RSS and heap growth.
// Usage: DATABASE_URL=postgres://… node --expose-gc bench/insert-many-memory.mjs [jobs]
import { Queue } from "../packages/docket/dist/index.js";

const jobs = Number(process.argv[2] ?? 300_000);
const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL");
const queue = new Queue({ connection: url, schema: "bench_memory", poolSize: 2 });
await queue.migrate();
// A string of its own per job, as real args are.
const args = Array.from({ length: jobs }, (_, i) => ({ i, payload: String(i).padEnd(1000, "x") }));
globalThis.gc?.();
const before = process.memoryUsage();
let peakRss = before.rss;
let peakHeap = before.heapUsed;
const sample = setInterval(() => {
  const now = process.memoryUsage();
  peakRss = Math.max(peakRss, now.rss);
  peakHeap = Math.max(peakHeap, now.heapUsed);
}, 5);
const started = performance.now();
const inserted = await queue.insertMany("MemoryBench", args);
const seconds = (performance.now() - started) / 1000;
clearInterval(sample);
const mb = (n) => `${Math.round(n / 1e6)} MB`;
console.log(
  `${inserted.length} jobs in ${seconds.toFixed(1)} s; args given ${mb(before.heapUsed)} heap before; ` +
    `peak RSS ${mb(peakRss)} (+${mb(peakRss - before.rss)}), peak heap +${mb(peakHeap - before.heapUsed)}`,
);
await queue.stop();
