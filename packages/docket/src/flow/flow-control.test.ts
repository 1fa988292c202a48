// Flow control across four nodes in one process: global limits, partition limits, rate limits
// and fairness, each checked by a ledger of the handlers that run and by sampling the table.
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker, type Queue, type QueueOptions } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

/** Handlers running now, in all, per key, and the most seen at once. */
class Ledger {
  running = 0;
  most = 0;
  readonly perKey = new Map<string, number>();
  mostPerKey = 0;
  done = 0;
  start(key = ""): void {
    this.running++;
    this.most = Math.max(this.most, this.running);
    const n = (this.perKey.get(key) ?? 0) + 1;
    this.perKey.set(key, n);
    this.mostPerKey = Math.max(this.mostPerKey, n);
  }
  end(key = ""): void {
    this.running--;
    this.perKey.set(key, (this.perKey.get(key) ?? 1) - 1);
    this.done++;
  }
}

/** Samples the executing jobs of a queue (in all and per key) until stopped. */
function sampleTable(queue: string) {
  let most = 0;
  let mostPerKey = 0;
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const [row] = await db.sql<{ total: number; per_key: number | null }[]>`
        SELECT coalesce(sum(n), 0)::int AS total, max(n)::int AS per_key FROM (
          SELECT count(*) AS n FROM docket.jobs WHERE state = 'executing' AND queue = ${queue}
          GROUP BY args->>'accountId') k`;
      most = Math.max(most, row?.total ?? 0);
      mostPerKey = Math.max(mostPerKey, row?.per_key ?? 0);
      samples++;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { most, mostPerKey, samples };
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function worker(ledger: Ledger, ms = () => 1 + Math.random() * 3) {
  return defineWorker<{ accountId: string }>({
    name: "flow.work",
    queue: "work",
    async perform(job) {
      ledger.start(job.args.accountId);
      await pause(ms());
      ledger.end(job.args.accountId);
    },
  });
}

async function startNodes(count: number, options: Partial<QueueOptions>): Promise<Queue[]> {
  const nodes = Array.from({ length: count }, () => makeQueue({ poolSize: 4, ...options }));
  await Promise.all(nodes.map((n) => n.start()));
  return nodes;
}

async function allCompleted(total: number): Promise<boolean> {
  const [row] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'completed'`;
  return row?.n === total;
}

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.queues, docket.flow_rates`;
});

describe("flow control", () => {
  test("a global limit holds across four nodes whose local limits add up to more", {
    timeout: 60_000,
  }, async () => {
    const ledger = new Ledger();
    const work = worker(ledger);
    const nodes = await startNodes(4, {
      queues: { work: { limit: 5, globalLimit: 6 } },
      workers: [work],
    });
    const sampler = sampleTable("work");
    const total = 2_000;
    await nodes[0]?.insertMany(
      work,
      Array.from({ length: total }, (_, i) => ({ accountId: `a${i % 7}` })),
    );
    await waitFor(() => allCompleted(total), { timeoutMs: 50_000, what: "every job to run" });
    const sampled = await sampler.stop();
    expect(ledger.done).toBe(total);
    expect(ledger.most).toBeLessThanOrEqual(6);
    expect(sampled.most).toBeLessThanOrEqual(6);
    // The limit is reached, not merely respected by running one at a time.
    expect(ledger.most).toBe(6);
    expect(sampled.samples).toBeGreaterThan(10);
  });

  test("a partition limit holds per key across four nodes while other keys flow", {
    timeout: 60_000,
  }, async () => {
    const ledger = new Ledger();
    const work = worker(ledger);
    const nodes = await startNodes(4, {
      queues: { work: { limit: 4, partition: { limit: 1, by: { args: ["accountId"] } } } },
      workers: [work],
    });
    const sampler = sampleTable("work");
    const total = 2_000;
    await nodes[0]?.insertMany(
      work,
      Array.from({ length: total }, (_, i) => ({ accountId: `a${i % 20}` })),
    );
    await waitFor(() => allCompleted(total), { timeoutMs: 50_000, what: "every job to run" });
    const sampled = await sampler.stop();
    expect(ledger.done).toBe(total);
    expect(ledger.mostPerKey).toBe(1);
    expect(sampled.mostPerKey).toBeLessThanOrEqual(1);
    expect(ledger.most).toBeGreaterThan(4); // several keys at once, on several nodes
  });

  test("a rate limit starts at most `allowed` jobs per fixed window", {
    timeout: 60_000,
  }, async () => {
    const ledger = new Ledger();
    const work = worker(ledger);
    const allowed = 40;
    const nodes = await startNodes(4, {
      queues: { work: { limit: 10, rateLimit: { allowed, period: "1s" } } },
      workers: [work],
      pollInterval: 0.05,
    });
    const total = 200;
    await nodes[0]?.insertMany(
      work,
      Array.from({ length: total }, () => ({ accountId: "x" })),
    );
    await waitFor(() => allCompleted(total), { timeoutMs: 50_000, what: "every job to run" });
    // attempted_at is the claim's now(), the clock the window is computed on.
    const windows = await db.sql<{ window: string; n: number }[]>`
      SELECT floor(extract(epoch FROM attempted_at))::text AS window, count(*)::int AS n
      FROM docket.jobs GROUP BY 1 ORDER BY 1`;
    expect(windows.reduce((sum, w) => sum + w.n, 0)).toBe(total);
    for (const w of windows) expect(w.n).toBeLessThanOrEqual(allowed);
    expect(windows.length).toBeGreaterThanOrEqual(total / allowed);
  });

  test("a key with few jobs starts within a few claims though another has thousands waiting", {
    timeout: 60_000,
  }, async () => {
    const ledger = new Ledger();
    const work = worker(ledger, () => 2);
    const node = makeQueue({
      poolSize: 4,
      queues: { work: { limit: 4, partition: { limit: 4, by: { args: ["accountId"] } } } },
      workers: [work],
    });
    await node.insertMany(
      work,
      Array.from({ length: 3_000 }, () => ({ accountId: "big" })),
    );
    await node.insertMany(
      work,
      Array.from({ length: 10 }, () => ({ accountId: "small" })),
    );
    await node.start();
    await waitFor(
      async () => {
        const [row] = await db.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM docket.jobs
          WHERE args->>'accountId' = 'small' AND state = 'completed'`;
        return row?.n === 10;
      },
      { timeoutMs: 30_000, what: "the small key's jobs to run" },
    );
    const [left] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs WHERE args->>'accountId' = 'big' AND state = 'available'`;
    // Before round robin, the small key waited for all 3,000 jobs of the big one.
    expect(left?.n).toBeGreaterThan(2_500);
  });
});
