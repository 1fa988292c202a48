import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import { DashboardData } from "../dashboard/dashboard-data.js";
import type { QueueEvents } from "../events.js";
import { queueInternals } from "../internals.js";
import type { Queue } from "../queue.js";
import { durationMs } from "../validation/duration.js";
import { zodToConfigError } from "../validation/zod-errors.js";

/**
 * `docket/prometheus`: docket's metrics on the application's own prom-client registry. Counters
 * and histograms count what this node did (from its events); the cluster-wide gauges are read
 * from the database at scrape time, so every node reports the same queue depth. See
 * docs/observability.md for every metric and its labels.
 */

/** Job durations and waits, in seconds: 1 ms to 10 min. */
const defaultBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

const optionsSchema = z
  .object({
    /** The registry to register on (the application's, so one scrape gets everything). */
    registry: z.custom<Registry>(
      (value) =>
        typeof value === "object" &&
        value !== null &&
        typeof (value as Registry).registerMetric === "function",
      { message: "must be a prom-client Registry" },
    ),
    /** Histogram buckets of job duration and wait, in seconds, ascending. */
    buckets: z
      .array(z.number().positive().finite())
      .min(1)
      .max(50)
      .refine((b) => b.every((v, i) => i === 0 || v > (b[i - 1] as number)), {
        message: "must be ascending",
      })
      .default(defaultBuckets),
    /** How long one database read of the cluster-wide gauges serves scrapes. */
    cacheTtl: durationMs()
      .refine((ms) => ms <= 3_600_000, { message: "must be at most 1h" })
      .default(5000),
    /** Jobs per state counted exactly up to this; above it the planner's estimate is used. */
    exactCountLimit: z.number().int().min(0).max(10_000_000).default(10_000),
    /** Longest a scrape's database read may take before it is cancelled. */
    statementTimeout: durationMs({ min: 100 })
      .refine((ms) => ms <= 600_000, { message: "must be at most 10m" })
      .default(5000),
  })
  .strict();

/** Options of {@link collectMetrics}. */
export type CollectMetricsOptions = z.input<typeof optionsSchema>;

/** What {@link collectMetrics} returns. */
export interface CollectedMetrics {
  /** Stops counting and removes docket's metrics from the registry. */
  stop(): void;
}

/** Every metric {@link collectMetrics} registers. */
export const metricNames = [
  "docket_jobs_inserted_total",
  "docket_jobs_finished_total",
  "docket_job_duration_seconds",
  "docket_job_wait_seconds",
  "docket_maintenance_runs_total",
  "docket_maintenance_duration_seconds",
  "docket_jobs_pruned_total",
  "docket_jobs_rescued_total",
  "docket_jobs",
  "docket_queue_oldest_available_age_seconds",
  "docket_queue_executing",
  "docket_queue_limit",
  "docket_is_leader",
] as const;

type Outcome = "completed" | "retryable" | "discarded" | "cancelled" | "snoozed";

/**
 * Registers docket's metrics for `queue` on `registry`. Call it once per queue and registry
 * (prom-client refuses a metric name registered twice).
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { collectMetrics } from "docket/prometheus";
 * const registry = new Registry();
 * collectMetrics(queue, { registry });
 * http.createServer(async (_, res) => res.end(await registry.metrics())).listen(9464);
 * ```
 */
export function collectMetrics(queue: Queue, options: CollectMetricsOptions): CollectedMetrics {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw zodToConfigError(parsed.error, "collectMetrics", optionsSchema);
  const { registry, buckets, cacheTtl, exactCountLimit, statementTimeout } = parsed.data;
  const registers = [registry];

  const inserted = new Counter({
    name: "docket_jobs_inserted_total",
    help: "Jobs inserted by this node.",
    labelNames: ["queue", "worker"],
    registers,
  });
  const finished = new Counter({
    name: "docket_jobs_finished_total",
    help: "Attempts this node ran whose outcome was stored, by outcome.",
    labelNames: ["queue", "worker", "outcome"],
    registers,
  });
  const duration = new Histogram({
    name: "docket_job_duration_seconds",
    help: "How long perform ran, per attempt.",
    labelNames: ["queue", "worker", "outcome"],
    buckets,
    registers,
  });
  const wait = new Histogram({
    name: "docket_job_wait_seconds",
    help: "From when a job was due to when an attempt started.",
    labelNames: ["queue", "worker"],
    buckets,
    registers,
  });
  const maintenanceRuns = new Counter({
    name: "docket_maintenance_runs_total",
    help: "Runs of the leader's maintenance tasks, by outcome.",
    labelNames: ["task", "outcome"],
    registers,
  });
  const maintenanceDuration = new Histogram({
    name: "docket_maintenance_duration_seconds",
    help: "How long a maintenance run took.",
    labelNames: ["task"],
    buckets,
    registers,
  });
  const pruned = new Counter({
    name: "docket_jobs_pruned_total",
    help: "Finished jobs this node's pruner deleted.",
    registers,
  });
  const rescued = new Counter({
    name: "docket_jobs_rescued_total",
    help: "Jobs of gone nodes this node's lifeline took back (made available or discarded).",
    registers,
  });

  const { sql } = queue[queueInternals]();
  const data = new DashboardData(sql, {
    schema: queue.schema,
    statementTimeoutMs: statementTimeout,
    exactCountLimit,
    cacheTtlMs: cacheTtl,
    heartbeatTimeoutMs: queue.options.heartbeat.timeout,
  });
  // One read of the database per scrape (or per cacheTtl) feeds the four cluster gauges: the
  // first gauge collected reads, the others of the same scrape (within 50 ms) use its promise.
  let read: { at: number; value: ReturnType<DashboardData["queues"]> } | undefined;
  const queues = () => {
    const now = Date.now();
    if (!read || now - read.at > Math.max(cacheTtl, 50)) read = { at: now, value: data.queues() };
    return read.value;
  };

  new Gauge({
    name: "docket_jobs",
    help: `Jobs per queue and state in the cluster (estimated above ${exactCountLimit}).`,
    labelNames: ["queue", "state"],
    registers,
    async collect() {
      this.reset();
      for (const q of await queues()) {
        for (const [state, shown] of Object.entries(q.counts)) {
          this.set({ queue: q.name, state }, shown.count);
        }
      }
    },
  });
  type QueueSummary = Awaited<ReturnType<DashboardData["queues"]>>[number];
  /** A gauge with one value per queue, from the scrape's one read. */
  const perQueue = (name: string, help: string, value: (q: QueueSummary) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["queue"],
      registers,
      async collect() {
        this.reset();
        for (const q of await queues()) this.set({ queue: q.name }, value(q));
      },
    });
  perQueue(
    "docket_queue_oldest_available_age_seconds",
    "How long the oldest due available job of the queue has waited (0 when none waits).",
    (q) => (q.oldestAvailableAgeMs ?? 0) / 1000,
  );
  perQueue("docket_queue_executing", "Jobs of the queue executing in the cluster.", (q) =>
    q.nodes.reduce((sum, n) => sum + n.executing, 0),
  );
  perQueue(
    "docket_queue_limit",
    "Jobs of the queue that may execute at once: the sum of the live nodes' limits.",
    (q) => q.nodes.reduce((sum, n) => sum + (n.limit ?? 0), 0),
  );
  new Gauge({
    name: "docket_is_leader",
    help: "1 while this node holds the leadership (runs maintenance), else 0.",
    registers,
    collect() {
      this.set(queue.isLeader ? 1 : 0);
    },
  });

  const count = (q: string, w: string, outcome: Outcome, ms: number) => {
    finished.inc({ queue: q, worker: w, outcome });
    duration.observe({ queue: q, worker: w, outcome }, ms / 1000);
  };
  const listeners: { [K in keyof QueueEvents]?: (...args: QueueEvents[K]) => void } = {
    "jobs:insert": (e) => inserted.inc({ queue: e.queue, worker: e.worker }, e.count),
    "job:start": (e) =>
      wait.observe({ queue: e.job.queue, worker: e.job.worker }, Math.max(0, e.queueTimeMs) / 1000),
    "job:complete": (e) => count(e.job.queue, e.job.worker, "completed", e.durationMs),
    "job:error": (e) => count(e.job.queue, e.job.worker, e.state, e.durationMs),
    "job:cancel": (e) => count(e.job.queue, e.job.worker, "cancelled", e.durationMs),
    "job:snooze": (e) => count(e.job.queue, e.job.worker, "snoozed", e.durationMs),
    "maintenance:run": (e) => {
      maintenanceRuns.inc({ task: e.task, outcome: e.outcome });
      maintenanceDuration.observe({ task: e.task }, e.durationMs / 1000);
    },
    "maintenance:prune": (e) => pruned.inc(e.deleted),
    "maintenance:rescue": (e) => rescued.inc(e.rescued + e.discarded),
  };
  type Untyped = (event: string, listener: (...a: never[]) => void) => void;
  const on = queue.on.bind(queue) as unknown as Untyped;
  const off = queue.off.bind(queue) as unknown as Untyped;
  for (const [event, listener] of Object.entries(listeners)) on(event, listener);

  return {
    stop() {
      for (const [event, listener] of Object.entries(listeners)) off(event, listener);
      for (const name of metricNames) registry.removeSingleMetric(name);
    },
  };
}
