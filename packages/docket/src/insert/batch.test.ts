import { beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { type BatchSummary, cancel, defineWorker, InsertError } from "../index.js";
import { drainQueue } from "../testing/index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const row = defineWorker({
  name: "batch.row",
  queue: "rows",
  maxAttempts: 1,
  args: z.object({
    n: z.number(),
    outcome: z.enum(["complete", "fail", "cancel"]).default("complete"),
  }),
  perform: ({ args }) => {
    if (args.outcome === "fail") throw new Error(`row ${args.n} failed`);
    if (args.outcome === "cancel") return cancel("not wanted");
    return args.n;
  },
});
const done = defineWorker({
  name: "batch.done",
  queue: "callbacks",
  args: z.object({
    importId: z.string(),
    batch: z.object({
      id: z.string(),
      total: z.number(),
      completed: z.number(),
      discarded: z.number(),
      cancelled: z.number(),
      pending: z.number(),
    }),
  }),
  perform: () => {},
});

interface CallbackRow {
  id: string;
  args: { importId: string; batch: BatchSummary };
}

function callbacks(importId?: string) {
  return db.sql<CallbackRow[]>`
    SELECT id::text, args FROM docket.jobs WHERE worker = 'batch.done'
      AND (${importId ?? null}::text IS NULL OR args->>'importId' = ${importId ?? null}::text)
    ORDER BY id`;
}

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs`;
  await db.sql`DELETE FROM docket.batches`;
});

describe("queue.batch()", () => {
  test("the callback is inserted once, when every job has finished, with the counts", async () => {
    const queue = makeQueue({ workers: [row, done] });
    const outcomes = ["complete", "fail", "complete", "cancel", "complete"] as const;
    const batch = await queue
      .batch({ callback: { worker: done, args: { importId: "a" } } })
      .addMany(
        row,
        outcomes.map((outcome, n) => ({ n, outcome })),
      )
      .insert();
    expect(batch.jobs).toHaveLength(5);
    await drainQueue(queue, { queue: "rows", withLimit: 4 });
    expect(await callbacks()).toHaveLength(0);
    await drainQueue(queue, { queue: "rows" });
    const [callback, ...more] = await callbacks();
    expect(more).toHaveLength(0);
    expect(callback?.args.batch).toEqual({
      id: batch.id,
      total: 5,
      completed: 3,
      discarded: 1,
      cancelled: 1,
      pending: 0,
    });
    const [left] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.batches`;
    expect(left?.n).toBe(0);
    // The callback is an ordinary job of its worker's queue.
    expect(await drainQueue(queue, { queue: "callbacks" })).toMatchObject({ completed: 1 });
  });

  test('callbackOn "discarded": inserted at the first discard, and not again', async () => {
    const queue = makeQueue({ workers: [row, done] });
    await queue
      .batch({ callback: { worker: done, args: { importId: "b" } }, callbackOn: "discarded" })
      .add(row, { n: 1, outcome: "fail" })
      .addMany(row, [{ n: 2 }, { n: 3 }, { n: 4, outcome: "fail" }])
      .insert();
    await drainQueue(queue, { queue: "rows", withLimit: 1 });
    const [early] = await callbacks();
    expect(early?.args.batch).toMatchObject({ total: 4, discarded: 1, completed: 0, pending: 3 });
    await drainQueue(queue, { queue: "rows" });
    expect(await callbacks()).toHaveLength(1);
  });

  test('callbackOn "discarded" without any discard: inserted when all have finished', async () => {
    const queue = makeQueue({ workers: [row, done] });
    await queue
      .batch({ callback: { worker: done, args: { importId: "c" } }, callbackOn: "discarded" })
      .addMany(row, [{ n: 1 }, { n: 2 }])
      .insert();
    await drainQueue(queue, { queue: "rows" });
    const [callback, ...more] = await callbacks();
    expect(more).toHaveLength(0);
    expect(callback?.args.batch).toMatchObject({ completed: 2, pending: 0 });
  });

  test("an admin cancel, a delete and an empty batch are counted; the callback still comes", async () => {
    const queue = makeQueue({ workers: [row, done] });
    const { jobs } = await queue
      .batch({ callback: { worker: done, args: { importId: "d" } } })
      .addMany(row, [{ n: 1 }, { n: 2 }, { n: 3 }])
      .insert();
    await queue.cancelJob(jobs[0]?.id as string);
    await queue.deleteJob(jobs[1]?.id as string);
    expect(await callbacks("d")).toHaveLength(0);
    await drainQueue(queue, { queue: "rows" });
    const [callback] = await callbacks("d");
    expect(callback?.args.batch).toMatchObject({ total: 3, completed: 1, cancelled: 2 });

    const empty = await queue
      .batch({ callback: { worker: done, args: { importId: "e" } } })
      .insert();
    const [now] = await callbacks("e");
    expect(now?.args.batch).toEqual({
      id: empty.id,
      total: 0,
      completed: 0,
      discarded: 0,
      cancelled: 0,
      pending: 0,
    });
  });

  test("callback args that fail the callback's schema are refused, nothing written", async () => {
    const queue = makeQueue({ workers: [row, done] });
    const bad = queue
      .batch({ callback: { worker: done, args: { importId: 7 } as never } })
      .add(row, { n: 1 });
    await expect(bad.insert()).rejects.toThrow(/args for worker "batch.done"/);
    await expect(
      queue
        .batch({ callback: undefined as never })
        .add(row, { n: 1 })
        .insert(),
    ).rejects.toThrow(InsertError);
    expect(() =>
      queue
        .batch({ callback: { worker: done, args: { importId: "i" } } })
        .add(row, { n: 1 }, { dependsOn: ["0"] } as never),
    ).toThrow(/no dependsOn/);
    const [n] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.jobs`;
    expect(n?.n).toBe(0);
  });

  test("a workflow with a callback: inserted once its last step has finished", async () => {
    const queue = makeQueue({ workers: [row, done] });
    await queue
      .workflow({ callback: { worker: done, args: { importId: "f" } } })
      .add("first", row, { n: 1 })
      .add("second", row, { n: 2 }, { dependsOn: ["first"] })
      .add("third", row, { n: 3 }, { dependsOn: ["second"] })
      .insert();
    await drainQueue(queue, { queue: "rows", withLimit: 2, withRecursion: true });
    expect(await callbacks("f")).toHaveLength(0);
    await drainQueue(queue, { queue: "rows", withRecursion: true });
    const [callback] = await callbacks("f");
    expect(callback?.args.batch).toMatchObject({ total: 3, completed: 3 });
  });
});

describe("outcomes by other paths", () => {
  test("a failed workflow step cancels its dependents, and the callback counts them", async () => {
    const queue = makeQueue({ workers: [row, done] });
    await queue
      .workflow({ callback: { worker: done, args: { importId: "g" } } })
      .add("bad", row, { n: 1, outcome: "fail" })
      .add("next", row, { n: 2 }, { dependsOn: ["bad"] })
      .add("last", row, { n: 3 }, { dependsOn: ["next"] })
      .add("other", row, { n: 4 })
      .insert();
    await drainQueue(queue, { queue: "rows", withRecursion: true });
    const [callback, ...more] = await callbacks("g");
    expect(more).toHaveLength(0);
    expect(callback?.args.batch).toMatchObject({
      total: 4,
      completed: 1,
      discarded: 1,
      cancelled: 2,
      pending: 0,
    });
  });

  test("a discarded job retried before the batch finished is counted by its new outcome", async () => {
    const queue = makeQueue({ workers: [row, done] });
    const { jobs } = await queue
      .batch({ callback: { worker: done, args: { importId: "h" } } })
      .add(row, { n: 1, outcome: "fail" })
      .add(row, { n: 2 }, { priority: 9 })
      .insert();
    await drainQueue(queue, { queue: "rows", withLimit: 1 });
    expect((await queue.getJob(jobs[0]?.id as string))?.state).toBe("discarded");
    // The operator fixes the cause and retries it: it leaves its final state.
    await db.sql`UPDATE docket.jobs SET args = args || '{"outcome": "complete"}' WHERE id = ${jobs[0]?.id as string}`;
    await queue.retryJob(jobs[0]?.id as string);
    await drainQueue(queue, { queue: "rows" });
    const [callback, ...more] = await callbacks("h");
    expect(more).toHaveLength(0);
    expect(callback?.args.batch).toMatchObject({ total: 2, completed: 2, discarded: 0 });
  });
});

describe("exactly once under concurrent acks", () => {
  test("many completions on three nodes at once make one callback with the right counts", async () => {
    const fast = defineWorker({
      name: "batch.fast",
      queue: "rows",
      args: z.object({ n: z.number() }),
      perform: ({ args }) => args.n,
    });
    const nodes = [0, 1, 2].map(() => makeQueue({ workers: [fast, done], queues: { rows: 8 } }));
    const inserter = nodes[0];
    if (!inserter) throw new Error("a node expected");
    const batches = await Promise.all(
      ["x", "y", "z"].map((importId) =>
        inserter
          .batch({ callback: { worker: done, args: { importId } } })
          .addMany(
            fast,
            Array.from({ length: 300 }, (_, n) => ({ n })),
          )
          .insert(),
      ),
    );
    await Promise.all(nodes.map((node) => node.start()));
    // A callback commits with the ack of its batch's last job: once every job is completed,
    // every callback that will ever be inserted is there.
    await waitFor(
      async () => {
        const [row] = await db.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM docket.jobs
          WHERE worker = 'batch.fast' AND state <> 'completed'`;
        return row?.n === 0;
      },
      { timeoutMs: 45_000, what: "every job of the three batches to complete" },
    );
    const nodesThatAcked = await db.sql<{ node: string }[]>`
      SELECT DISTINCT attempted_by AS node FROM docket.jobs WHERE worker = 'batch.fast'`;
    expect(nodesThatAcked.length).toBeGreaterThan(1);
    const all = await callbacks();
    expect(all).toHaveLength(3);
    for (const batch of batches) {
      const mine = all.filter((c) => c.args.batch.id === batch.id);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.args.batch).toMatchObject({ total: 300, completed: 300, pending: 0 });
    }
  }, 60_000);
});
