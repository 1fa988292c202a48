import { describe, expect, test } from "vitest";
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
