import type { Sql } from "postgres";
import { z } from "zod";
import { run } from "../sql/executor.js";
import { readJobStats } from "../sql/observability/job-stats.js";
import { type Duration, durationMs } from "../validation/duration.js";
import { zodToConfigError } from "../validation/zod-errors.js";

/**
 * What `queue.stats()` reads: from `since` (a date, or a duration back from now; default `"1h"`),
 * per `by` bucket (`"minute"` default, `"hour"`, `"day"`), optionally of one queue or worker.
 */
export interface StatsOptions {
  since?: Date | Duration;
  by?: "minute" | "hour" | "day";
  queue?: string;
  worker?: string;
}

/**
 * One bucket of history: how many jobs of a queue and worker finished with an outcome, and their
 * execution time (`exec*`: started to finished) and wait (`wait*`: due to started), milliseconds.
 * Times are null when none of the jobs ran (cancelled before starting). In buckets wider than a
 * minute the percentiles are the count-weighted means of the minutes' own.
 */
export interface JobStats {
  /** Start of the bucket. */
  at: Date;
  queue: string;
  worker: string;
  outcome: "completed" | "discarded" | "cancelled";
  count: number;
  execP50Ms: number | null;
  execP95Ms: number | null;
  execMaxMs: number | null;
  waitP50Ms: number | null;
  waitP95Ms: number | null;
  waitMaxMs: number | null;
}

const statsOptionsSchema = z
  .object({
    since: z.union([z.date(), durationMs()]).default(3_600_000),
    by: z.enum(["minute", "hour", "day"]).default("minute"),
    queue: z.string().min(1).optional(),
    worker: z.string().min(1).optional(),
  })
  .strict();

/** Reads the rolled-up history (see {@link StatsOptions}); throws ConfigError on bad options. */
export async function readStats(
  executor: Sql,
  schema: string,
  options: StatsOptions,
): Promise<JobStats[]> {
  const parsed = statsOptionsSchema.safeParse(options);
  if (!parsed.success) throw zodToConfigError(parsed.error, "stats", statsOptionsSchema);
  const { since, by, queue, worker } = parsed.data;
  const from = since instanceof Date ? since : new Date(Date.now() - since);
  const rows = await run(
    executor,
    readJobStats(schema, { since: from, bucket: by, queue: queue ?? null, worker: worker ?? null }),
  );
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    at: new Date(r.at),
    queue: r.queue,
    worker: r.worker,
    outcome: r.outcome as JobStats["outcome"],
    count: Number(r.count),
    execP50Ms: num(r.exec_p50_ms),
    execP95Ms: num(r.exec_p95_ms),
    execMaxMs: num(r.exec_max_ms),
    waitP50Ms: num(r.wait_p50_ms),
    waitP95Ms: num(r.wait_p95_ms),
    waitMaxMs: num(r.wait_max_ms),
  }));
}
