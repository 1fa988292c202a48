import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

async function states(worker: string) {
  return db.sql<{ state: string; attempt: number; n: number }[]>`
    SELECT state::text, attempt, count(*)::int AS n FROM docket.jobs WHERE worker = ${worker}
    GROUP BY 1, 2 ORDER BY 1, 2`;
}

describe("graceful stop", () => {
  test("running jobs finish within the grace; unstarted ones go back without using an attempt", async () => {
    let started = 0;
    const worker = defineWorker({
      name: "steady",
      queue: "s1",
      perform: async () => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 200));
        return "finished";
      },
    });
    const queue = makeQueue({ queues: { s1: { limit: 2, prefetch: 4 } }, workers: [worker] });
    await queue.insertMany(
      worker,
      Array.from({ length: 20 }, () => ({})),
    );
    await queue.start();
    await waitFor(() => started === 2);
    await queue.stop({ grace: "5s" });
    const rows = await states("steady");
    expect(rows).toEqual([
      { state: "available", attempt: 0, n: 18 },
      { state: "completed", attempt: 1, n: 2 },
    ]);
  });

  test("after the grace, signals abort and unfinished jobs are handed back", async () => {
    let abortedWith: unknown;
    const worker = defineWorker({
      name: "endless",
      queue: "s2",
      perform: (_job, { signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => {
            abortedWith = signal.reason;
            reject(signal.reason);
          });
        }),
    });
    const queue = makeQueue({ queues: { s2: 3 }, workers: [worker] });
    await queue.insertMany(worker, [{}, {}, {}]);
    await queue.start();
    await waitFor(async () =>
      (await states("endless")).some((r) => r.state === "executing" && r.n === 3),
    );
    const before = Date.now();
    await queue.stop({ grace: "300ms" });
    // The jobs never finish on their own: stop waits the whole grace (300 ms), then about 50 ms
    // for the aborted performs. 5 s is over ten times that; a stop that waited for the jobs
    // would never return (the test timeout).
    const tookMs = Date.now() - before;
    expect(tookMs).toBeGreaterThanOrEqual(295);
    expect(tookMs).toBeLessThan(5_000);
    expect(String(abortedWith)).toMatch(/shutting down/);
    const rows = await db.sql<{ state: string; attempt: number; errors: unknown[] }[]>`
      SELECT state::text, attempt, errors FROM docket.jobs WHERE worker = 'endless'`;
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toEqual({ state: "available", attempt: 0, errors: [] });
  });

  test("stop returns even if perform ignores its signal, and may be called twice", async () => {
    const worker = defineWorker({
      name: "deaf",
      queue: "s3",
      perform: () => new Promise(() => {}),
    });
    const queue = makeQueue({ queues: { s3: 1 }, workers: [worker] });
    const job = await queue.insert(worker, {});
    await queue.start();
    await waitFor(async () => (await queue.getJob(job.id))?.state === "executing");
    const before = Date.now();
    const first = queue.stop({ grace: "200ms" });
    const second = queue.stop({ grace: "200ms" });
    await Promise.all([first, second]);
    // Grace 200 ms plus about 50 ms for the ignored abort: 5 s is over ten times that.
    const tookMs = Date.now() - before;
    expect(tookMs).toBeGreaterThanOrEqual(195);
    expect(tookMs).toBeLessThan(5_000);
    const [row] = await db.sql<{ state: string; attempt: number }[]>`
      SELECT state::text, attempt FROM docket.jobs WHERE id = ${job.id}`;
    expect(row).toEqual({ state: "available", attempt: 0 });
  });

  test("no job of a stopped node is left executing", async () => {
    const worker = defineWorker({
      name: "mixed",
      queue: "s4",
      perform: async (job, { signal }) => {
        const ms = Number(job.args.ms);
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        });
      },
    });
    const queue = makeQueue({ queues: { s4: 5 }, workers: [worker] });
    await queue.insertMany(
      worker,
      Array.from({ length: 50 }, (_, i) => ({ ms: (i % 5) * 150 })),
    );
    await queue.start();
    await waitFor(async () => (await states("mixed")).some((r) => r.state === "completed"));
    await queue.stop({ grace: "250ms" });
    const rows = await states("mixed");
    expect(rows.filter((r) => r.state === "executing")).toEqual([]);
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(50);
    // Jobs handed back have their attempt refunded.
    expect(rows.filter((r) => r.state === "available").every((r) => r.attempt === 0)).toBe(true);
  });
});
