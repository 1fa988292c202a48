// Flow limits changed at run time (limitQueue), kept across restarts, freed by a graceful stop,
// and bad input refused with the option's name.
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError, defineWorker, Queue } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.queues, docket.flow_rates`;
});

let running = 0;
let most = 0;
const work = defineWorker<{ blockOn?: string }>({
  name: "flow.runtime",
  queue: "work",
  async perform(job, { signal }) {
    running++;
    most = Math.max(most, running);
    try {
      if (job.args.blockOn === job.attemptedBy) {
        await new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason)),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    } finally {
      running--;
    }
  },
});

async function completed(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'completed'`;
  return row?.n ?? 0;
}

describe("flow limits at run time", () => {
  test("limitQueue limits running nodes at once, {} lifts the limits, and they outlive a restart", {
    timeout: 60_000,
  }, async () => {
    const nodes = [1, 2].map(() => makeQueue({ queues: { work: 5 }, workers: [work] }));
    await Promise.all(nodes.map((n) => n.start()));
    const admin = makeQueue();
    expect(await admin.limitQueue("work", { globalLimit: 2 })).toEqual({ globalLimit: 2 });
    most = 0;
    // Inserted right away: claims before the nodes hear of the change must not pass it either.
    await admin.insertMany(
      work,
      Array.from({ length: 300 }, () => ({})),
    );
    await waitFor(async () => (await completed()) === 300, { timeoutMs: 30_000 });
    expect(most).toBe(2);

    expect(await admin.limitQueue("work", {})).toBeNull();
    most = 0;
    await admin.insertMany(
      work,
      Array.from({ length: 300 }, () => ({})),
    );
    await waitFor(async () => (await completed()) === 600, { timeoutMs: 30_000 });
    expect(most).toBeGreaterThan(2);

    await admin.limitQueue("work", { rateLimit: { allowed: 10, period: "1m" } });
    // A node configured otherwise keeps the runtime limits, until limitQueue(name, null).
    const restarted = makeQueue({
      queues: { work: { limit: 5, globalLimit: 4 } },
      workers: [work],
    });
    await restarted.start();
    expect(await restarted.queueLimits("work")).toEqual({
      rateLimit: { allowed: 10, period: 60_000 },
    });
    expect(await restarted.limitQueue("work", null)).toEqual({ globalLimit: 4 });
  });

  test("a graceful stop gives its slots of a global limit back at once", {
    timeout: 30_000,
  }, async () => {
    const options = {
      queues: { work: { limit: 2, globalLimit: 2 } },
      workers: [work],
      lifeline: false as const,
    };
    const a = makeQueue({ ...options, node: "node-a" });
    await a.start();
    await a.insertMany(work, [{ blockOn: "node-a" }, { blockOn: "node-a" }]);
    await waitFor(() => running === 2, { what: "node-a to hold both slots" });
    const b = makeQueue({ ...options, node: "node-b" });
    await b.start();
    await b.insertMany(work, [{}, {}, {}]);
    // node-b polls every 0.2 s: over a second the global limit leaves it nothing.
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      const rows = await db.sql<{ state: string; n: number }[]>`
        SELECT state::text, count(*)::int AS n FROM docket.jobs GROUP BY 1 ORDER BY 1`;
      expect(rows).toEqual([
        { state: "available", n: 3 },
        { state: "executing", n: 2 },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await a.stop({ grace: 0.1 });
    await waitFor(async () => (await completed()) === 5, { what: "node-b to run all five" });
    const rows = await db.sql<{ attempted_by: string }[]>`
      SELECT DISTINCT attempted_by FROM docket.jobs`;
    expect(rows).toEqual([{ attempted_by: "node-b" }]);
  });

  test("a node that has not heard of new limits claims nothing past them", async () => {
    const node = makeQueue({ queues: { work: 5 }, workers: [work] });
    await node.start();
    // Stored without the NOTIFY that limitQueue sends: the node still claims as if unlimited.
    await db.sql`UPDATE docket.queues SET flow = '{"globalLimit": 1}'::jsonb WHERE name = 'work'`;
    await node.insertMany(work, [{}, {}, {}]);
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      const rows = await db.sql<{ state: string; n: number }[]>`
        SELECT state::text, count(*)::int AS n FROM docket.jobs GROUP BY 1`;
      expect(rows).toEqual([{ state: "available", n: 3 }]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test("jobs inserted before and after a partition, unique or not, carry their key and run", async () => {
    const unique = defineWorker<{ accountId: string }>({
      name: "flow.unique",
      queue: "work",
      unique: { keys: ["accountId"] },
      perform: () => {},
    });
    const early = makeQueue();
    await early.insert(unique, { accountId: "a" }); // before the queue had limits: no key
    const node = makeQueue({
      queues: { work: { limit: 2, partition: { limit: 1, by: { args: ["accountId"] } } } },
      workers: [unique, work],
    });
    await node.start();
    await node.insert(unique, { accountId: "b" });
    await node.insert(work, {});
    const keys = await db.sql<{ key: string | null }[]>`
      SELECT partition_key AS key FROM docket.jobs ORDER BY id`;
    expect(keys.map((k) => k.key)).toEqual(['["a"]', '["b"]', "[null]"]);
    await waitFor(async () => (await completed()) === 3, { what: "all three to run" });
  });

  test("a rate limit per partition counts each key's starts on its own", async () => {
    const nodes = [1, 2].map(() =>
      makeQueue({
        queues: {
          work: {
            limit: 5,
            rateLimit: { allowed: 5, period: "1h", partition: { by: { args: ["accountId"] } } },
          },
        },
        workers: [work],
      }),
    );
    await Promise.all(nodes.map((n) => n.start()));
    for (const accountId of ["a", "b", "c"]) {
      await nodes[0]?.insertMany(
        work,
        Array.from({ length: 10 }, () => ({ accountId }) as { blockOn?: string }),
      );
    }
    await waitFor(async () => (await completed()) >= 15, { what: "five jobs of each account" });
    // Grouped by hour as the windows are, so that a test that straddles an hour still holds.
    const rows = await db.sql<{ account: string; n: number }[]>`
      SELECT args->>'accountId' AS account, count(*)::int AS n FROM docket.jobs
      WHERE state <> 'available'
      GROUP BY 1, date_trunc('hour', attempted_at) ORDER BY 1`;
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) expect(row.n).toBeLessThanOrEqual(5);
    expect(new Set(rows.map((r) => r.account))).toEqual(new Set(["a", "b", "c"]));
  });

  test("bad limits fail fast with the option's name", async () => {
    const admin = makeQueue();
    await expect(admin.limitQueue("work", { globalLimit: 0 })).rejects.toThrow(
      /limitQueue\.globalLimit/,
    );
    await expect(
      admin.limitQueue("work", { globalLimt: 1 } as unknown as { globalLimit: number }),
    ).rejects.toThrow(/did you mean "globalLimit"/);
    const bad = (queue: object) => () =>
      new Queue({ connection: db.url, queues: { work: queue as never } });
    expect(bad({ limit: 1, partition: { limit: 1, by: {} } })).toThrow(
      /queues\.work\.partition\.by: must name worker: true, args/,
    );
    expect(bad({ limit: 1, rateLimit: { allowed: 5, period: "500ms" } })).toThrow(
      /queues\.work\.rateLimit\.period: must be at least 1000ms/,
    );
    expect(
      bad({
        limit: 1,
        partition: { limit: 1, by: { worker: true } },
        rateLimit: { allowed: 5, period: "1m", partition: { by: { args: ["id"] } } },
      }),
    ).toThrow(/rateLimit\.partition\.by: must be the same as partition\.by/);
    expect(bad({ limit: 1, globalLimit: 1.5 })).toThrow(ConfigError);
  });
});
