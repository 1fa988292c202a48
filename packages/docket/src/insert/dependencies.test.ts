import { beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { defineWorker, InsertError } from "../index.js";
import { drainQueue } from "../testing/index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const order: number[] = [];
const step = defineWorker({
  name: "dep.step",
  queue: "deps",
  args: z.object({ n: z.number() }),
  perform: ({ args }) => {
    order.push(args.n);
  },
});

describe("dependsOn", () => {
  test("a dependent waits and is released by its dependency's ack", async () => {
    const queue = makeQueue({ workers: [step] });
    const a = await queue.insert(step, { n: 1 });
    const b = await queue.insert(step, { n: 2 }, { dependsOn: [a] });
    expect(b.state).toBe("scheduled");
    await drainQueue(queue, { queue: "deps", withRecursion: true });
    expect(order).toEqual([1, 2]);
    expect((await queue.getJob(b.id))?.state).toBe("completed");
  });

  test("an unknown dependency is refused with nothing written", async () => {
    const queue = makeQueue({ workers: [step] });
    await expect(queue.insert(step, { n: 3 }, { dependsOn: ["999999999"] })).rejects.toThrow(
      InsertError,
    );
    const [row] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM docket.jobs WHERE args @> '{"n": 3}'`;
    expect(row?.n).toBe(0);
  });
});

const flaky = defineWorker({
  name: "dep.fail",
  queue: "deps",
  args: z.object({ n: z.number() }),
  maxAttempts: 1,
  perform: ({ args }) => {
    order.push(args.n);
    throw new Error("boom");
  },
});

describe("dependsOn outcomes", () => {
  test("fan-in: the dependent runs once every dependency completed", async () => {
    order.length = 0;
    const queue = makeQueue({ workers: [step] });
    const a = await queue.insert(step, { n: 10 });
    const b = await queue.insert(step, { n: 11 });
    const c = await queue.insert(step, { n: 12 }, { dependsOn: [a.id, b] });
    const d = await queue.insert(step, { n: 13 }, { dependsOn: [c] });
    await drainQueue(queue, { queue: "deps", withRecursion: true });
    expect(order.indexOf(12)).toBeGreaterThan(Math.max(order.indexOf(10), order.indexOf(11)));
    expect(order.at(-1)).toBe(13);
    expect((await queue.getJob(d.id))?.state).toBe("completed");
  });

  test("a discarded dependency cancels its dependent, or lets it run under 'run'", async () => {
    order.length = 0;
    const queue = makeQueue({ workers: [step, flaky] });
    const bad = await queue.insert(flaky, { n: 20 });
    const cancelled = await queue.insert(step, { n: 21 }, { dependsOn: [bad] });
    const runs = await queue.insert(
      step,
      { n: 22 },
      { dependsOn: [bad], onDependencyFailure: "run" },
    );
    await drainQueue(queue, { queue: "deps", withRecursion: true });
    expect((await queue.getJob(bad.id))?.state).toBe("discarded");
    expect((await queue.getJob(cancelled.id))?.state).toBe("cancelled");
    expect((await queue.getJob(runs.id))?.state).toBe("completed");
    expect(order).toEqual([20, 22]);
  });

  test("a dependency already completed does not hold the dependent back", async () => {
    const queue = makeQueue({ workers: [step] });
    const a = await queue.insert(step, { n: 30 });
    await drainQueue(queue, { queue: "deps" });
    const b = await queue.insert(step, { n: 31 }, { dependsOn: [a] });
    expect(b.state).toBe("available");
  });
});

describe("a failed dependency settles the whole graph, by any path", () => {
  beforeEach(async () => {
    await db.sql`TRUNCATE docket.jobs`;
  });

  test("a discard cancels a chain to its end; a 'run' dependent in it still runs", async () => {
    order.length = 0;
    const queue = makeQueue({ workers: [step, flaky] });
    const bad = await queue.insert(flaky, { n: 40 });
    const b = await queue.insert(step, { n: 41 }, { dependsOn: [bad] });
    const c = await queue.insert(step, { n: 42 }, { dependsOn: [b] });
    const d = await queue.insert(step, { n: 43 }, { dependsOn: [c] });
    const anyway = await queue.insert(
      step,
      { n: 44 },
      { dependsOn: [c], onDependencyFailure: "run" },
    );
    await drainQueue(queue, { queue: "deps", withRecursion: true });
    for (const job of [b, c, d]) expect((await queue.getJob(job.id))?.state).toBe("cancelled");
    expect((await queue.getJob(anyway.id))?.state).toBe("completed");
    expect(order).toEqual([40, 44]);
  });

  test("an admin cancel of a dependency settles its dependents", async () => {
    order.length = 0;
    const queue = makeQueue({ workers: [step] });
    const first = await queue.insert(step, { n: 50 }, { scheduleIn: "1h" });
    const cancelled = await queue.insert(step, { n: 51 }, { dependsOn: [first] });
    const runs = await queue.insert(
      step,
      { n: 52 },
      { dependsOn: [first], onDependencyFailure: "run" },
    );
    await queue.cancelJob(first.id);
    expect((await queue.getJob(cancelled.id))?.state).toBe("cancelled");
    expect((await queue.getJob(runs.id))?.state).toBe("available");
    await drainQueue(queue, { queue: "deps" });
    expect(order).toEqual([52]);
  });

  test("a dependency deleted before it finished settles its dependents", async () => {
    order.length = 0;
    const queue = makeQueue({ workers: [step] });
    const first = await queue.insert(step, { n: 60 }, { scheduleIn: "1h" });
    const cancelled = await queue.insert(step, { n: 61 }, { dependsOn: [first] });
    const runs = await queue.insert(
      step,
      { n: 62 },
      { dependsOn: [first], onDependencyFailure: "run" },
    );
    expect(await queue.deleteJob(first.id)).not.toBeNull();
    expect((await queue.getJob(cancelled.id))?.state).toBe("cancelled");
    expect((await queue.getJob(runs.id))?.state).toBe("available");
    await drainQueue(queue, { queue: "deps" });
    expect(order).toEqual([62]);
  });

  test("deleting a completed dependency changes nothing for its released dependent", async () => {
    order.length = 0;
    const queue = makeQueue({ workers: [step] });
    const first = await queue.insert(step, { n: 70 });
    const second = await queue.insert(step, { n: 71 }, { dependsOn: [first] });
    await drainQueue(queue, { queue: "deps" });
    expect((await queue.getJob(second.id))?.state).toBe("available");
    await queue.deleteJob(first.id);
    expect((await queue.getJob(second.id))?.state).toBe("available");
    await drainQueue(queue, { queue: "deps" });
    expect(order).toEqual([70, 71]);
  });
});
