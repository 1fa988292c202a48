// What a benchmark run does, from environment variables, so that a quick run is one variable away.

/** The systems compared. */
export const systemNames = ["docket", "docket-partitioned", "graphile-worker", "pg-boss"] as const;
export type SystemName = (typeof systemNames)[number];

/** docket's two layouts: the plain jobs table, and `partitioned: true` (docs/scaling.md). */
export type DocketLayout = "docket" | "docket-partitioned";

/** The docket layouts among `systems`, in order. */
export function docketLayouts(systems: readonly SystemName[]): DocketLayout[] {
  return systems.filter((s): s is DocketLayout => s === "docket" || s === "docket-partitioned");
}

/** The scenarios a run can include. */
export const scenarioNames = [
  "throughput",
  "latency",
  "pgbench",
  "pruning",
  "rescue",
  "flow",
  "workflow",
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

/** A parsed benchmark configuration. */
export interface BenchConfig {
  /** Rounds of the interleaved sequence A B C (at least 3 for a real run). */
  rounds: number;
  systems: SystemName[];
  scenarios: ScenarioName[];
  /** Jobs bulk-inserted, then processed, per throughput trial. */
  jobs: number;
  /** Handlers in flight, one throughput trial each. */
  concurrency: number[];
  /** Single inserts on an idle worker per latency trial, and how many per second. */
  latencyJobs: number;
  latencyRate: number;
  /** The burst drained before the second latency trial (0: only the fresh-database one). */
  latencyDrain: number;
  /** Completed jobs put in docket's table for the "finished jobs in the table" trials (0: none). */
  finishedRows: number;
  /** Finished jobs the pruner deletes, and live jobs processed meanwhile. */
  pruneRows: number;
  pruneLiveJobs: number;
  /** Batch sizes (jobs per claim, one floor row each) and clients of the pgbench floor. */
  pgbenchBatch: number[];
  pgbenchClients: number;
  /** Where the JSON results go. */
  output: string;
}

/** Reads the configuration from `BENCH_*` variables; `BENCH_QUICK=1` shrinks everything. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK === "1" || env.BENCH_QUICK === "true";
  return {
    rounds: int(env.BENCH_ROUNDS, quick ? 1 : 3, "BENCH_ROUNDS"),
    systems: list(env.BENCH_SYSTEMS, systemNames, "BENCH_SYSTEMS"),
    scenarios: list(env.BENCH_SCENARIOS, scenarioNames, "BENCH_SCENARIOS"),
    jobs: int(env.BENCH_JOBS, quick ? 5_000 : 20_000, "BENCH_JOBS"),
    concurrency: (env.BENCH_CONCURRENCY ?? "10,50")
      .split(",")
      .map((s) => int(s.trim(), 10, "BENCH_CONCURRENCY")),
    latencyJobs: int(env.BENCH_LATENCY_JOBS, quick ? 100 : 300, "BENCH_LATENCY_JOBS"),
    latencyRate: int(env.BENCH_LATENCY_RATE, 50, "BENCH_LATENCY_RATE"),
    latencyDrain: count(env.BENCH_LATENCY_DRAIN, quick ? 5_000 : 20_000, "BENCH_LATENCY_DRAIN"),
    finishedRows: count(env.BENCH_FINISHED_ROWS, 0, "BENCH_FINISHED_ROWS"),
    pruneRows: int(env.BENCH_PRUNE_ROWS, quick ? 100_000 : 1_000_000, "BENCH_PRUNE_ROWS"),
    pruneLiveJobs: int(env.BENCH_PRUNE_LIVE_JOBS, quick ? 5_000 : 20_000, "BENCH_PRUNE_LIVE_JOBS"),
    pgbenchBatch: (env.BENCH_PGBENCH_BATCH ?? "100,500")
      .split(",")
      .map((s) => int(s.trim(), 100, "BENCH_PGBENCH_BATCH")),
    pgbenchClients: int(env.BENCH_PGBENCH_CLIENTS, 2, "BENCH_PGBENCH_CLIENTS"),
    output: env.BENCH_OUTPUT ?? "results/latest.json",
  };
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** Like {@link int}, but 0 is allowed (it turns the trial off). */
function count(value: string | undefined, fallback: number, name: string): number {
  return value?.trim() === "0" ? 0 : int(value, fallback, name);
}

function list<T extends string>(value: string | undefined, all: readonly T[], name: string): T[] {
  if (value === undefined || value.trim() === "") return [...all];
  const picked = value.split(",").map((s) => s.trim());
  for (const p of picked) {
    if (!all.includes(p as T)) throw new Error(`${name}: unknown "${p}"; known: ${all.join(", ")}`);
  }
  return picked as T[];
}
