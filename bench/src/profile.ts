// `pnpm --filter docket-bench run profile`: where a throughput trial spends its time, for one
// system, in this process (run under `node --cpu-prof` for a flame graph of the client side).
// Prints the client's CPU per 1,000 jobs, the server's CPU (all postgres processes, from /proc),
// commits and WAL written, and the top statements by total time (pg_stat_statements).
//
//   BENCH_SYSTEM=docket BENCH_JOBS=20000 BENCH_CONCURRENCY=10 pnpm --filter docket-bench run profile
//
// BENCH_SETUP_SQL runs after the system's migrations (schema experiments, e.g. dropping an index).
// BENCH_CPU_PROFILE=file.cpuprofile records the client's CPU profile of the processing phase
// only (open it in Chrome DevTools or speedscope); the summary of its top functions is printed.

import { readdir, readFile, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import postgres, { type Sql } from "postgres";
import type { SystemName } from "./config.js";
import { createDatabase, startBenchServer } from "./postgres-server.js";
import { checkpoint, Ledger, pollUntil } from "./scenarios/checks.js";
import { createSystem } from "./systems/index.js";

const ticksPerSecond = 100; // USER_HZ on Linux

/**
 * CPU seconds used so far by the server's postmaster and its children (backends, WAL writer,
 * checkpointer, autovacuum), from /proc; other servers on the machine do not count. Backends that
 * ended meanwhile are counted in the postmaster's cutime/cstime.
 */
async function postgresCpuSeconds(postmaster: number): Promise<number> {
  let ticks = 0;
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      if (Number(pid) === postmaster) {
        // utime, stime, and the children it has waited for: cutime, cstime
        ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      } else if (ppid === postmaster) {
        ticks += Number(fields[11]) + Number(fields[12]);
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / ticksPerSecond;
}

/** The postmaster's process id, from postmaster.pid in the data directory (same machine only). */
async function postmasterPid(sql: Sql): Promise<number> {
  const [row] = await sql<
    { setting: string }[]
  >`SELECT setting FROM pg_settings WHERE name = 'data_directory'`;
  const text = await readFile(`${row?.setting}/postmaster.pid`, "utf8");
  return Number(text.split("\n")[0]);
}

interface Counters {
  commits: number;
  walRecords: number;
  walFpi: number;
  walBytes: number;
  walSync: number;
}

async function counters(sql: Sql): Promise<Counters> {
  const [db] = await sql<{ commits: string }[]>`
    SELECT xact_commit AS commits FROM pg_stat_database WHERE datname = current_database()`;
  const [wal] = await sql<
    { wal_records: string; wal_fpi: string; wal_bytes: string; wal_sync: string }[]
  >`
    SELECT wal_records, wal_fpi, wal_bytes, wal_sync FROM pg_stat_wal`;
  return {
    commits: Number(db?.commits),
    walRecords: Number(wal?.wal_records),
    walFpi: Number(wal?.wal_fpi),
    walBytes: Number(wal?.wal_bytes),
    walSync: Number(wal?.wal_sync),
  };
}

async function main(): Promise<void> {
  const name = (process.env.BENCH_SYSTEM ?? "docket") as SystemName;
  const jobs = Number(process.env.BENCH_JOBS ?? 20_000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 10);
  process.env.BENCH_PG_FLAGS ??= "shared_preload_libraries=pg_stat_statements track_io_timing=on";
  const server = await startBenchServer();
  try {
    const url = await createDatabase(server.adminUrl, `profile_${Date.now()}`);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    const system = await createSystem(name, url);
    await system.setup();
    // An experiment on the schema, e.g. "DROP INDEX docket.jobs_state_worker_idx".
    if (process.env.BENCH_SETUP_SQL) await sql.unsafe(process.env.BENCH_SETUP_SQL);
    const insertStart = performance.now();
    await system.insertBulk(0, jobs);
    const insertMs = performance.now() - insertStart;
    await checkpoint(url);
    await sql`SELECT pg_stat_statements_reset()`;
    await sql`SELECT pg_stat_reset_shared('wal')`;

    const before = await counters(sql);
    const postmaster = await postmasterPid(sql);
    const pgBefore = await postgresCpuSeconds(postmaster);
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    const profileFile = process.env.BENCH_CPU_PROFILE;
    const session = profileFile ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    }
    const ledger = new Ledger();
    await system.startWorkers({ concurrency, onJob: (i) => ledger.record(i) });
    await ledger.waitFor(jobs, 300_000);
    const doneAt = await pollUntil(async () => (await system.unfinished()) === 0, 60_000);
    const seconds = (doneAt - ledger.firstAt) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const elu = performance.eventLoopUtilization(eluBefore);
    const profile = session ? (await session.post("Profiler.stop")).profile : undefined;
    const pgCpu = (await postgresCpuSeconds(postmaster)) - pgBefore;
    const after = await counters(sql);

    const per1000 = (x: number) => ((x / jobs) * 1000).toFixed(1);
    const lines = [
      `${name}: ${jobs} jobs, concurrency ${concurrency}`,
      `insert: ${Math.round((jobs / insertMs) * 1000)} jobs/s`,
      `processing: ${Math.round(jobs / seconds)} jobs/s over ${seconds.toFixed(2)}s`,
      `client CPU: ${((cpu.user + cpu.system) / 1e3).toFixed(0)} ms (${per1000((cpu.user + cpu.system) / 1e3)} ms per 1,000 jobs), event loop utilization ${(elu.utilization * 100).toFixed(0)}%`,
      `server CPU: ${(pgCpu * 1000).toFixed(0)} ms (${per1000(pgCpu * 1000)} ms per 1,000 jobs)`,
      `commits: ${after.commits - before.commits} (${per1000(after.commits - before.commits)} per 1,000 jobs), WAL syncs: ${after.walSync - before.walSync}`,
      `WAL: ${after.walRecords - before.walRecords} records, ${after.walFpi - before.walFpi} full-page images, ${((after.walBytes - before.walBytes) / 2 ** 20).toFixed(1)} MiB (${per1000((after.walBytes - before.walBytes) / 1024)} KiB per 1,000 jobs)`,
      "top statements by total time:",
    ];
    const top = await sql<
      { calls: string; total: number; mean: number; rows: string; query: string }[]
    >`
      SELECT calls, total_exec_time AS total, mean_exec_time AS mean, rows,
             regexp_replace(query, '\\s+', ' ', 'g') AS query
      FROM pg_stat_statements
      -- The profile's own reads and resets; not every statement that names pg_stat_statements
      -- (the claim's comments do).
      WHERE query NOT ILIKE '%FROM pg\\_stat%' AND query NOT ILIKE '%pg\\_stat%reset%'
      ORDER BY total_exec_time DESC LIMIT 8`;
    for (const t of top) {
      lines.push(
        `  ${Number(t.total).toFixed(0).padStart(6)} ms  ${String(t.calls).padStart(6)} calls  ${Number(t.mean).toFixed(3)} ms/call  ${String(t.rows).padStart(6)} rows  ${t.query.slice(0, 150)}`,
      );
    }
    if (profile && profileFile) {
      await writeFile(profileFile, JSON.stringify(profile));
      lines.push(
        `client CPU profile of the processing phase: ${profileFile}`,
        ...topFunctions(profile),
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    await system.stop();
    await sql.end();
  } finally {
    await server.stop();
  }
}

/** The functions with the most self time in a CPU profile, as lines of text. */
function topFunctions(profile: {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  (profile.samples ?? []).forEach((id, k) => {
    const frame = byId.get(id)?.callFrame;
    const micros = profile.timeDeltas?.[k] ?? 0;
    if (!frame || frame.functionName === "(idle)") return;
    busy += micros;
    const file = frame.url
      .replace(/^.*node_modules\//, "")
      .replace(/^.*\/(packages|bench)\//, "$1/");
    const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + micros);
  });
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return [
    `  busy ${(busy / 1000).toFixed(0)} ms; top self time:`,
    ...top.map(([key, micros]) => `  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`),
  ];
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
