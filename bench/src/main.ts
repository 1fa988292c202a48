// `pnpm bench`: docket, graphile-worker and pg-boss side by side on one PostgreSQL server, each
// trial on a fresh database and in a fresh process, rounds interleaved (A B C A B C …), medians
// with min–max, docket/peer ratios, and every trial checked for jobs lost or run twice.
// See docs/performance.md for the method and the BENCH_* variables.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { type BenchConfig, docketLayouts, readConfig, type SystemName } from "./config.js";
import { createDatabase, dropDatabase, startBenchServer } from "./postgres-server.js";
import { buildRows, formatMarkdown, formatTable, type Sample } from "./report.js";
import { runTrial, startTrial } from "./run-trial.js";
import { type FlowResult, type FlowVariant, flowSlots } from "./scenarios/flow.js";
import type { LatencyResult } from "./scenarios/latency.js";
import { findPgbench, type PgbenchResult } from "./scenarios/pgbench.js";
import type { PruningResult } from "./scenarios/pruning.js";
import { type RescueNodeResult, rescueSettings } from "./scenarios/rescue-node.js";
import type { ThroughputResult } from "./scenarios/throughput.js";
import type { WorkflowResult } from "./scenarios/workflow.js";

/** A trial's check that every job ran exactly once. */
interface Integrity {
  trial: string;
  lost: number;
  duplicates: number;
}

const lowerIsBetter = new Set<string>();
const samples: Sample[] = [];
const integrity: Integrity[] = [];
const failures: string[] = [];
const notes: string[] = [];

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function add(
  metric: string,
  system: Sample["system"],
  round: number,
  value: number,
  lower = false,
) {
  samples.push({ metric, system, round, value });
  if (lower) lowerIsBetter.add(metric);
}

/** Rotates the list by `round` so that no system always goes first. */
function rotated<T>(list: readonly T[], round: number): T[] {
  const k = round % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

let databaseCounter = 0;

/** Runs `body` on a fresh database, dropped afterwards; a failure is recorded, not thrown. */
async function onFreshDatabase(
  adminUrl: string,
  label: string,
  body: (url: string) => Promise<void>,
) {
  const name =
    `bench_${++databaseCounter}_${label.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}`.slice(0, 60);
  const url = await createDatabase(adminUrl, name);
  const started = performance.now();
  try {
    await body(url);
    log(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push(`${label}: ${message}`);
    log(`${label}: FAILED ${message}`);
  } finally {
    await dropDatabase(adminUrl, name);
  }
}

async function throughputTrials(config: BenchConfig, adminUrl: string, round: number) {
  await throughputRound(config, adminUrl, round, config.systems, 0);
  // `BENCH_FINISHED_ROWS` completed jobs in docket's table first, then the same trials.
  if (config.finishedRows > 0) {
    await throughputRound(
      config,
      adminUrl,
      round,
      docketLayouts(config.systems),
      config.finishedRows,
    );
  }
}

/** One throughput trial per concurrency and system, with `finished` completed jobs seeded. */
async function throughputRound(
  config: BenchConfig,
  adminUrl: string,
  round: number,
  systems: readonly SystemName[],
  finished: number,
) {
  const suffix =
    finished === 0 ? "" : `, ${finished.toLocaleString("en")} finished jobs in the table`;
  for (const concurrency of config.concurrency) {
    for (const system of rotated(systems, round)) {
      const label = `r${round + 1} throughput c=${concurrency} ${system}${suffix}`;
      await onFreshDatabase(adminUrl, label, async (url) => {
        const r = await runTrial<ThroughputResult>({
          kind: "throughput",
          system,
          url,
          jobs: config.jobs,
          concurrency,
          ...(finished === 0 ? {} : { finished }),
        });
        add(`insertMany ${config.jobs} jobs, jobs/s${suffix}`, system, round, r.insertJobsPerSec);
        add(
          `processing jobs/s, concurrency ${concurrency}${suffix}`,
          system,
          round,
          r.processJobsPerSec,
        );
        integrity.push({ trial: label, lost: r.lost, duplicates: r.duplicates });
      });
    }
  }
}

/**
 * Flow control on four docket nodes: no limits and a global limit equal to the sum of the local
 * limits (interleaved; no-op, 10 ms and 50 ms jobs), then rate-limit accuracy and fairness.
 */
async function flowTrials(config: BenchConfig, adminUrl: string, round: number) {
  const concurrency = config.concurrency[config.concurrency.length - 1] ?? 40;
  // Each node gets an equal share, rounded up: the global limit is the sum of the shares.
  const slots = flowSlots(concurrency).total;
  const c = `4 nodes, ${slots} in all`;
  const trials: { variant: FlowVariant; jobMs: number }[] = [
    ...rotated(["plain", "global"] as const, round).flatMap((variant) =>
      [0, 10, 50].map((jobMs) => ({ variant, jobMs })),
    ),
    { variant: "rate", jobMs: 0 },
    { variant: "fairness", jobMs: 0 },
  ];
  for (const { variant, jobMs } of trials) {
    const label = `r${round + 1} flow ${variant} ${jobMs}ms`;
    await onFreshDatabase(adminUrl, label, async (url) => {
      const r = await runTrial<FlowResult>({
        kind: "flow",
        url,
        variant,
        jobs: config.jobs,
        concurrency,
        jobMs,
      });
      const job = jobMs === 0 ? "no-op jobs" : `${jobMs} ms jobs`;
      if (variant === "plain")
        add(`flow: no limits, ${job}, jobs/s (${c})`, "docket", round, r.jobsPerSec ?? 0);
      if (variant === "global") {
        add(
          `flow: globalLimit ${slots}, ${job}, jobs/s (${c})`,
          "docket",
          round,
          r.jobsPerSec ?? 0,
        );
        add(
          `flow: globalLimit ${slots}, ${job}, most executing`,
          "docket",
          round,
          r.mostExecuting ?? 0,
          true,
        );
      }
      if (variant === "rate") {
        add(
          "flow: rateLimit 200/1s, most starts in a window",
          "docket",
          round,
          r.mostPerWindow ?? 0,
          true,
        );
        add(
          "flow: rateLimit 200/1s, median starts per full window",
          "docket",
          round,
          r.medianPerWindow ?? 0,
        );
      }
      if (variant === "fairness") {
        add(
          "flow: partition, big-key jobs started before the small key's 10",
          "docket",
          round,
          r.bigStartedBefore ?? 0,
          true,
        );
        add(
          "flow: partition, ms to the small key's last start",
          "docket",
          round,
          r.smallDoneMs ?? 0,
          true,
        );
      }
    });
  }
}

/**
 * A 10,000-job workflow (docket only): its insert and its run, against the same jobs inserted
 * with insertMany and run without dependencies, interleaved.
 */
async function workflowTrials(config: BenchConfig, adminUrl: string, round: number) {
  const jobs = 10_000;
  const concurrency = config.concurrency[config.concurrency.length - 1] ?? 50;
  for (const variant of rotated(["graph", "plain"] as const, round)) {
    const label = `r${round + 1} workflow ${variant}`;
    await onFreshDatabase(adminUrl, label, async (url) => {
      const r = await runTrial<WorkflowResult>({
        kind: "workflow",
        url,
        variant,
        jobs,
        concurrency,
      });
      const what =
        variant === "graph" ? "10,000-job workflow" : "same 10,000 jobs, no dependencies";
      add(`workflow: insert ${what}, ms`, "docket", round, r.insertMs, true);
      add(`workflow: run ${what}, jobs/s (c=${concurrency})`, "docket", round, r.jobsPerSec);
      integrity.push({ trial: label, lost: r.lost, duplicates: r.duplicates });
    });
  }
}

async function latencyTrials(config: BenchConfig, adminUrl: string, round: number) {
  // On a fresh database, then on one that just drained a burst (BENCH_LATENCY_DRAIN jobs; 0
  // skips it): both are real, and a plan that only goes wrong on a used table shows here.
  const drains = config.latencyDrain > 0 ? [0, config.latencyDrain] : [0];
  for (const afterDrain of drains) {
    const when = afterDrain === 0 ? "" : ` after a ${afterDrain.toLocaleString("en")}-job drain`;
    for (const system of rotated(config.systems, round)) {
      const label = `r${round + 1} latency${when} ${system}`;
      await onFreshDatabase(adminUrl, label, async (url) => {
        const r = await runTrial<LatencyResult>({
          kind: "latency",
          system,
          url,
          jobs: config.latencyJobs,
          rate: config.latencyRate,
          concurrency: 10,
          afterDrain,
        });
        add(`latency${when} commit→start p50, ms`, system, round, r.p50, true);
        add(`latency${when} commit→start p95, ms`, system, round, r.p95, true);
        add(`latency${when} commit→start p99, ms`, system, round, r.p99, true);
        if (afterDrain === 0) add("latency send→start p50, ms", system, round, r.sendP50, true);
        integrity.push({ trial: label, lost: r.lost, duplicates: r.duplicates });
      });
    }
  }
  if (config.finishedRows === 0) return;
  const finished = `${config.finishedRows.toLocaleString("en")} finished jobs in the table`;
  for (const system of rotated(docketLayouts(config.systems), round)) {
    const label = `r${round + 1} latency ${system}, ${finished}`;
    await onFreshDatabase(adminUrl, label, async (url) => {
      const r = await runTrial<LatencyResult>({
        kind: "latency",
        system,
        url,
        jobs: config.latencyJobs,
        rate: config.latencyRate,
        concurrency: 10,
        finished: config.finishedRows,
      });
      add(`latency, ${finished}, commit→start p50, ms`, system, round, r.p50, true);
      add(`latency, ${finished}, commit→start p95, ms`, system, round, r.p95, true);
      add(`latency, ${finished}, commit→start p99, ms`, system, round, r.p99, true);
      integrity.push({ trial: label, lost: r.lost, duplicates: r.duplicates });
    });
  }
}

async function pgbenchTrial(config: BenchConfig, adminUrl: string, round: number) {
  if (!findPgbench()) {
    if (round === 0) notes.push("pgbench not found on this machine: the floor rows are skipped.");
    return;
  }
  for (const batch of config.pgbenchBatch) {
    const label = `r${round + 1} pgbench floor batch ${batch}`;
    await onFreshDatabase(adminUrl, label, async (url) => {
      const r = await runTrial<PgbenchResult>({
        kind: "pgbench",
        url,
        jobs: config.jobs,
        batch,
        clients: config.pgbenchClients,
      });
      const metric = `floor: pgbench claim+complete, ${batch} a batch, ${config.pgbenchClients} clients, jobs/s`;
      add(metric, "pgbench", round, r.jobsPerSec);
      integrity.push({ trial: label, lost: r.lost, duplicates: r.duplicates });
      if (round === 0) notes.push(`pgbench floor: ${r.pgbench}.`);
    });
  }
}

/**
 * Pruning `BENCH_PRUNE_ROWS` finished jobs while live jobs run, per docket layout: the plain table
 * deletes them in batches, the partitioned one drops their days. Per layout, one trial with the
 * pruner and one without (interleaved), on the same seeded content.
 */
async function pruningTrials(config: BenchConfig, adminUrl: string, round: number) {
  const rows = config.pruneRows.toLocaleString("en-US");
  const seconds: Partial<Record<SystemName, number>> = {};
  for (const system of rotated(docketLayouts(config.systems), round)) {
    const partitioned = system === "docket-partitioned";
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const live: Record<string, number> = {};
    for (const withPruner of order) {
      const label = `r${round + 1} pruning ${system} ${withPruner ? "with" : "without"} pruner`;
      await onFreshDatabase(adminUrl, label, async (url) => {
        const r = await runTrial<PruningResult>({
          kind: "pruning",
          url,
          rows: config.pruneRows,
          liveJobs: config.pruneLiveJobs,
          withPruner,
          partitioned,
        });
        live[String(withPruner)] = r.liveJobsPerSec;
        if (r.sizes) addSizes(system, round, r.sizes);
        if (withPruner && r.pruneMs !== null) {
          seconds[system] = r.pruneMs / 1000;
          add(`pruning ${rows} finished jobs, s`, system, round, r.pruneMs / 1000, true);
          add(`pruning ${rows} finished jobs, rows/s`, system, round, r.prunedRowsPerSec ?? 0);
          if (r.prunerOutlastedLive === false && !partitioned) {
            notes.push(
              `${label}: the pruner finished before the live jobs did; raise BENCH_PRUNE_ROWS.`,
            );
          }
        }
        const what = withPruner ? "while pruning" : "(no pruning)";
        add(`live jobs/s ${what}`, system, round, r.liveJobsPerSec);
        integrity.push({ trial: label, lost: r.lost, duplicates: r.duplicates });
      });
    }
    if (live.true !== undefined && live.false !== undefined) {
      const percent = (live.true / live.false) * 100;
      add("live throughput while pruning, % of without", system, round, percent);
    }
  }
  const plain = seconds.docket;
  const dropped = seconds["docket-partitioned"];
  if (plain !== undefined && dropped !== undefined && dropped > 0) {
    add(
      "pruning: dropping days, × faster than DELETE",
      "docket-partitioned",
      round,
      plain / dropped,
    );
  }
}

/** The jobs table's size before pruning, after, and after a VACUUM, in MiB. */
function addSizes(system: SystemName, round: number, s: NonNullable<PruningResult["sizes"]>) {
  const mib = (bytes: number) => bytes / 2 ** 20;
  add("jobs table before pruning, MiB", system, round, mib(s.heapBefore), true);
  add("jobs table before pruning, MiB with indexes", system, round, mib(s.totalBefore), true);
  add("jobs table after pruning, MiB", system, round, mib(s.heapPruned), true);
  add("jobs table after pruning, MiB with indexes", system, round, mib(s.totalPruned), true);
  add("jobs table after pruning + VACUUM, MiB", system, round, mib(s.heapVacuumed), true);
  add(
    "jobs table after pruning + VACUUM, MiB with indexes",
    system,
    round,
    mib(s.totalVacuumed),
    true,
  );
}

async function rescueTrials(config: BenchConfig, adminUrl: string, round: number) {
  const measured = config.systems.filter(
    (s): s is "docket" | "pg-boss" => s === "docket" || s === "pg-boss",
  );
  if (round === 0 && config.systems.includes("graphile-worker")) {
    notes.push(
      "rescue, graphile-worker: not measured. A job locked by a killed worker is retried only once its lock is 4 hours old (not configurable).",
    );
  }
  for (const system of rotated(measured, round)) {
    const label = `r${round + 1} rescue ${system}`;
    await onFreshDatabase(adminUrl, label, async (url) => {
      const victim = startTrial({ kind: "rescue-node", system, url, role: "victim" }, 120_000);
      await Promise.race([victim.event("started"), victim.result]);
      const rescuer = startTrial({ kind: "rescue-node", system, url, role: "rescuer" }, 120_000);
      await Promise.race([rescuer.event("ready"), rescuer.result]);
      const killedAt = Date.now();
      victim.child.kill("SIGKILL");
      const r = (await rescuer.result) as RescueNodeResult;
      add("rescue after SIGKILL, s", system, round, (r.completedAt - killedAt) / 1000, true);
      integrity.push({
        trial: label,
        lost: r.runs === 0 ? 1 : 0,
        duplicates: Math.max(0, r.runs - 1),
      });
    });
  }
  if (round === 0) notes.push(`rescue settings: ${JSON.stringify(rescueSettings)}.`);
}

async function main(): Promise<void> {
  const config = readConfig();
  log(`config: ${JSON.stringify(config)}`);
  const server = await startBenchServer();
  const stopServer = async () => {
    await server.stop().catch(() => {});
  };
  process.once("SIGINT", () => {
    void stopServer().finally(() => process.exit(130));
  });
  const startedAt = new Date();
  const loadBefore = loadavg();
  try {
    const description = await server.describe();
    log(`PostgreSQL from ${server.source}: ${description.version}`);
    for (let round = 0; round < config.rounds; round++) {
      log(`round ${round + 1} of ${config.rounds}`);
      if (config.scenarios.includes("throughput"))
        await throughputTrials(config, server.adminUrl, round);
      if (config.scenarios.includes("pgbench")) await pgbenchTrial(config, server.adminUrl, round);
      if (config.scenarios.includes("latency")) await latencyTrials(config, server.adminUrl, round);
      if (config.scenarios.includes("pruning")) await pruningTrials(config, server.adminUrl, round);
      if (config.scenarios.includes("rescue")) await rescueTrials(config, server.adminUrl, round);
      if (config.scenarios.includes("flow")) await flowTrials(config, server.adminUrl, round);
      if (config.scenarios.includes("workflow"))
        await workflowTrials(config, server.adminUrl, round);
    }

    const rows = buildRows(samples, lowerIsBetter);
    const broken = integrity.filter((i) => i.lost > 0 || i.duplicates > 0);
    const machine = {
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
    };
    process.stdout.write(`\n${formatTable(rows)}\n\n`);
    process.stdout.write(
      `medians of ${config.rounds} round(s), (min–max); ↓ lower is better; ratios are docket / peer.\n`,
    );
    process.stdout.write(
      broken.length === 0
        ? `integrity: ${integrity.length} trials, no job lost, none run twice.\n`
        : `integrity: FAILED in ${broken.map((b) => `${b.trial} (lost ${b.lost}, twice ${b.duplicates})`).join("; ")}\n`,
    );
    for (const note of notes) process.stdout.write(`note: ${note}\n`);
    for (const failure of failures) process.stdout.write(`failed: ${failure}\n`);
    process.stdout.write(
      `PostgreSQL ${description.version.split(" ")[1]} (${server.source}), ${JSON.stringify(description.settings)}\n`,
    );
    process.stdout.write(
      `machine: ${machine.cpus} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${loadBefore.map((l) => l.toFixed(2)).join(" ")} → ${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(" ")}\n`,
    );

    const output = resolve(config.output);
    await mkdir(dirname(output), { recursive: true });
    const systems = await versions();
    await writeFile(
      output,
      `${JSON.stringify(
        {
          startedAt,
          finishedAt: new Date(),
          config,
          server: { source: server.source, ...description },
          machine,
          systems,
          rows,
          samples,
          integrity,
          notes,
          failures,
        },
        null,
        2,
      )}\n`,
    );
    await writeFile(output.replace(/\.json$/, ".md"), `${formatMarkdown(rows)}\n`);
    log(`wrote ${output}`);
    if (broken.length > 0 || failures.length > 0) process.exitCode = 1;
  } finally {
    await stopServer();
  }
}

/** Versions of the systems compared, from their package.json files. */
async function versions(): Promise<Record<SystemName, string>> {
  const read = async (name: string) => {
    try {
      const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
      return (JSON.parse(await readFile(file, "utf8")) as { version: string }).version;
    } catch {
      return "unknown";
    }
  };
  const docket = await read("docket");
  return {
    docket,
    "docket-partitioned": docket,
    "graphile-worker": await read("graphile-worker"),
    "pg-boss": await read("pg-boss"),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
