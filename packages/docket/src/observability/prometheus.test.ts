// docket/prometheus on a real prom-client registry: real jobs run, then the registry is scraped
// and its text format parsed for the names, labels and values.
import { Registry } from "prom-client";
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError, defineWorker, snooze } from "../index.js";
import { collectMetrics, metricNames } from "./prometheus.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.queues, docket.producers, docket.leaders`;
});

const work = defineWorker<{ outcome: "ok" | "fail" | "snooze" }>({
  name: "metrics.work",
  queue: "metered",
  maxAttempts: 1,
  async perform(job) {
    if (job.args.outcome === "fail") throw new Error("boom");
    if (job.args.outcome === "snooze" && job.attempt === 1) return snooze(3600);
  },
});
const idle = defineWorker({ name: "metrics.idle", queue: "waiting", perform() {} });

/** `name{labels} value` lines of a scrape, as a map from `name{labels}` to the value. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const line of (await registry.metrics()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

describe("collectMetrics", () => {
  test("counts inserts and outcomes, times attempts, and reads cluster gauges from the database", async () => {
    const queue = makeQueue({
      queues: { metered: 4 },
      workers: [work, idle],
      leadership: { ttl: 2 },
    });
    const registry = new Registry();
    collectMetrics(queue, { registry, cacheTtl: 0 });
    await queue.start();
    await queue.insertMany(work, [
      { outcome: "ok" },
      { outcome: "ok" },
      { outcome: "ok" },
      { outcome: "fail" },
      { outcome: "snooze" },
    ]);
    // Never claimed: this node does not run "waiting".
    await queue.insert(idle, {}, { scheduledAt: new Date(Date.now() - 60_000) });
    await waitFor(async () => {
      const m = await scrape(registry);
      return (
        m.get(
          'docket_jobs_finished_total{queue="metered",worker="metrics.work",outcome="completed"}',
        ) === 3 &&
        m.get(
          'docket_jobs_finished_total{queue="metered",worker="metrics.work",outcome="discarded"}',
        ) === 1 &&
        m.get(
          'docket_jobs_finished_total{queue="metered",worker="metrics.work",outcome="snoozed"}',
        ) === 1
      );
    });
    await waitFor(() => queue.isLeader);
    // The snoozed job's row is stored by now (its event came after the ack). Gauges read within
    // 50 ms of each other share one database read: past that, a scrape reads afresh.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const m = await scrape(registry);

    expect(m.get('docket_jobs_inserted_total{queue="metered",worker="metrics.work"}')).toBe(5);
    expect(m.get('docket_jobs_inserted_total{queue="waiting",worker="metrics.idle"}')).toBe(1);
    expect(
      m.get(
        'docket_job_duration_seconds_count{queue="metered",worker="metrics.work",outcome="completed"}',
      ),
    ).toBe(3);
    expect(m.get('docket_job_wait_seconds_count{queue="metered",worker="metrics.work"}')).toBe(5);
    // Cluster gauges come from the table, not from this node's memory.
    expect(m.get('docket_jobs{queue="metered",state="completed"}')).toBe(3);
    expect(m.get('docket_jobs{queue="metered",state="discarded"}')).toBe(1);
    expect(m.get('docket_jobs{queue="metered",state="scheduled"}')).toBe(1);
    expect(m.get('docket_jobs{queue="waiting",state="available"}')).toBe(1);
    expect(m.get('docket_queue_oldest_available_age_seconds{queue="waiting"}')).toBeGreaterThan(59);
    expect(m.get('docket_queue_oldest_available_age_seconds{queue="metered"}')).toBe(0);
    expect(m.get('docket_queue_limit{queue="metered"}')).toBe(4);
    expect(m.get('docket_queue_executing{queue="metered"}')).toBe(0);
    expect(m.get("docket_is_leader")).toBe(1);
    expect(m.get('docket_maintenance_runs_total{task="stager",outcome="ok"}')).toBeGreaterThan(0);
    expect(m.get("docket_jobs_pruned_total")).toBe(0);
    expect(m.get("docket_jobs_rescued_total")).toBe(0);
    for (const name of metricNames) {
      expect((await registry.metrics()).includes(`# TYPE ${name} `)).toBe(true);
    }
    // No job ids, args or tags as labels: only these label names appear.
    const labels = new Set(
      [...m.keys()].flatMap((k) => [...k.matchAll(/(\w+)="/g)].map((x) => x[1])),
    );
    expect([...labels].sort()).toEqual(["le", "outcome", "queue", "state", "task", "worker"]);
  });

  test("another node's gauges see the same queue depth", async () => {
    const producer = makeQueue({ workers: [idle] });
    await producer.insertMany(idle, [{}, {}, {}]);
    const observer = makeQueue({});
    const registry = new Registry();
    collectMetrics(observer, { registry });
    const m = await scrape(registry);
    expect(m.get('docket_jobs{queue="waiting",state="available"}')).toBe(3);
    expect(m.get('docket_jobs_inserted_total{queue="waiting",worker="metrics.idle"}')).toBe(
      undefined,
    );
  });

  test("stop() removes the metrics, so they can be registered again", async () => {
    const queue = makeQueue({});
    const registry = new Registry();
    collectMetrics(queue, { registry }).stop();
    expect(registry.getMetricsAsArray()).toEqual([]);
    collectMetrics(queue, { registry });
    expect(registry.getMetricsAsArray().length).toBe(metricNames.length);
  });

  test("bad options are a ConfigError naming the option", () => {
    const queue = makeQueue({});
    expect(() => collectMetrics(queue, { registry: {} as Registry })).toThrow(ConfigError);
    expect(() => collectMetrics(queue, { registry: new Registry(), buckets: [1, 0.5] })).toThrow(
      /buckets: must be ascending/,
    );
    expect(() => collectMetrics(queue, { registry: new Registry(), cacheTtl: "2h" })).toThrow(
      /cacheTtl: must be at most 1h/,
    );
  });
});
