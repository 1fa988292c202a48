// `pnpm --filter docket-bench run tracing`: docket's throughput trial with tracing set up in
// several ways, interleaved round by round on one server (each trial a fresh database and a
// fresh process, as in main.ts): off (no OpenTelemetry), docket/otel with the batch and the simple
// span processor, the floor (a bare hand-written span per attempt, no docket/otel), and sampled
// attempts (batch processor). Prints each variant's processing rate, its ratio to off within the
// same round, and the trial process's CPU per job (steadier than rates on a shared machine).
//
//   BENCH_ROUNDS=3 BENCH_JOBS=5000 BENCH_CONCURRENCY=50 pnpm --filter docket-bench run tracing
//
// BENCH_TRACING_VARIANTS (comma-separated names below) picks the variants; BENCH_PG, DATABASE_URL
// and DATABASE_URL work as for `pnpm bench`; BENCH_TRACING_BEFORE (a build's dist/index.js) adds
// that build's off and batch variants, for a before/after comparison in the same run.

import { createDatabase, dropDatabase, startBenchServer } from "./postgres-server.js";
import { runTrial } from "./run-trial.js";
import type { ThroughputResult } from "./scenarios/throughput.js";
import { formatNumber, summarize } from "./stats.js";

/** Each variant's environment for the trial process (see setUpTracing in systems/docket.ts). */
const allVariants: Record<string, Record<string, string>> = {
  off: {},
  batch: { BENCH_TRACING: "batch" },
  simple: { BENCH_TRACING: "simple" },
  floor: { BENCH_TRACING: "floor" },
  "context manager": { BENCH_TRACING: "context" },
  "sampleRatio 0.1": { BENCH_TRACING: "batch", BENCH_TRACING_RATIO: "0.1" },
  "SDK sampler 0.1": { BENCH_TRACING: "batch", BENCH_TRACING_SAMPLER: "0.1" },
};
// BENCH_TRACING_BEFORE=path/to/other/dist/index.js adds that build, off and traced (batch).
const before = process.env.BENCH_TRACING_BEFORE;
if (before) {
  allVariants["off (before)"] = { BENCH_DOCKET_MODULE: before };
  allVariants["batch (before)"] = { BENCH_TRACING: "batch", BENCH_DOCKET_MODULE: before };
}
const tracingKeys = [
  "BENCH_TRACING",
  "BENCH_TRACING_RATIO",
  "BENCH_TRACING_SAMPLER",
  "BENCH_DOCKET_MODULE",
];

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const jobs = Number(process.env.BENCH_JOBS ?? 5000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
const picked = process.env.BENCH_TRACING_VARIANTS?.split(",").map((name) => name.trim());
const names = picked ?? Object.keys(allVariants);
for (const name of names) if (!allVariants[name]) throw new Error(`unknown variant "${name}"`);
if (!names.includes("off")) names.unshift("off");

const rates = new Map<string, number[]>(names.map((name) => [name, []]));
const ratios = new Map<string, number[]>(names.map((name) => [name, []]));
const cpus = new Map<string, number[]>(names.map((name) => [name, []]));
const server = await startBenchServer();
let failed = 0;
try {
  for (let round = 0; round < rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    const thisRound = new Map<string, number>();
    for (const name of order) {
      const label = `tracing_${round}_${name.replace(/[^a-z0-9]+/gi, "_")}`.toLowerCase();
      const url = await createDatabase(server.adminUrl, label);
      for (const key of tracingKeys) delete process.env[key];
      Object.assign(process.env, allVariants[name]);
      try {
        const r = await runTrial<ThroughputResult>({
          kind: "throughput",
          system: "docket",
          url,
          jobs,
          concurrency,
        });
        if (r.lost > 0 || r.duplicates > 0) {
          failed++;
          process.stderr.write(`[tracing] ${name}: ${r.lost} lost, ${r.duplicates} run twice\n`);
        }
        thisRound.set(name, r.processJobsPerSec);
        rates.get(name)?.push(r.processJobsPerSec);
        cpus.get(name)?.push(r.clientCpuUsPerJob);
        process.stderr.write(
          `[tracing] r${round + 1} ${name}: ${Math.round(r.processJobsPerSec)} jobs/s, ${r.clientCpuUsPerJob.toFixed(1)} µs CPU per job\n`,
        );
      } finally {
        await dropDatabase(server.adminUrl, label);
      }
    }
    const off = thisRound.get("off");
    for (const [name, rate] of thisRound) if (off) ratios.get(name)?.push(rate / off);
  }
} finally {
  await server.stop();
}

console.log(`docket processing, ${jobs} no-op jobs, concurrency ${concurrency}, ${server.source}`);
console.log(
  "| variant | jobs/s, median (min–max) | against off in the same round | client CPU µs per job | CPU over off |",
);
console.log("| --- | --- | --- | --- | --- |");
const offCpu = summarize(cpus.get("off") ?? [])?.median ?? Number.NaN;
for (const name of names) {
  const rate = summarize(rates.get(name) ?? []);
  const ratio = summarize(ratios.get(name) ?? []);
  const cpu = summarize(cpus.get(name) ?? []);
  const pct = (v: number) => `${(v * 100).toFixed(0)} %`;
  const range = (s: typeof rate, f: (v: number) => string) =>
    s ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : "–";
  const us = (v: number) => v.toFixed(1);
  const extra = cpu ? `+${(cpu.median - offCpu).toFixed(1)} µs` : "–";
  console.log(
    `| ${name} | ${range(rate, formatNumber)} | ${range(ratio, pct)} | ${range(cpu, us)} | ${extra} |`,
  );
}
if (failed > 0) process.exitCode = 1;
