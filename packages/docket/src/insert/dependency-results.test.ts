import { expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker, type Job } from "../index.js";
import { drainQueue } from "../testing/index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const square = defineWorker({
  name: "results.square",
  queue: "results",
  args: z.object({ n: z.number() }),
  perform: ({ args }) => args.n * args.n,
});

const seen = new Map<string, Map<string, Job>>();
const sum = defineWorker({
  name: "results.sum",
  queue: "results",
  args: z.object({ label: z.string() }),
  async perform(job, { dependencies }) {
    const deps = await dependencies();
    seen.set(job.args.label, deps);
    return [...deps.values()].reduce((total, dep) => total + Number(dep.meta.result), 0);
  },
});

test("a dependent reads the results of exactly its dependencies, in their order, on a node", async () => {
  const queue = makeQueue({ workers: [square, sum], queues: { results: 4 } });
  const [one, two, three] = await queue.insertMany(square, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  if (!one || !two || !three) throw new Error("three jobs expected");
  // Another job that is not listed: its result must not show up.
  await queue.insert(square, { n: 100 });
  const total = await queue.insert(sum, { label: "fan-in" }, { dependsOn: [three, one, two.id] });
  await queue.start();
  const done = await queue.waitForJob(total.id, { timeout: "15s" });
  expect(done.meta.result).toBe(14);
  const deps = seen.get("fan-in");
  expect([...(deps?.keys() ?? [])]).toEqual([three.id, one.id, two.id]);
  expect(deps?.get(one.id)?.state).toBe("completed");
  expect(deps?.get(three.id)?.meta.result).toBe(9);
});

test("a job without dependencies gets an empty map; a deleted dependency is missing", async () => {
  const queue = makeQueue({ workers: [square, sum] });
  const alone = await queue.insert(sum, { label: "alone" });
  const kept = await queue.insert(square, { n: 4 });
  const gone = await queue.insert(square, { n: 5 });
  const after = await queue.insert(sum, { label: "after-delete" }, { dependsOn: [kept, gone] });
  await drainQueue(queue, { queue: "results" });
  await queue.deleteJob(gone.id);
  // Its dependencies have finished (the first drain ran them), so the second drain runs it.
  await waitFor(async () => (await queue.getJob(after.id))?.state === "available");
  await drainQueue(queue, { queue: "results" });
  expect(seen.get("alone")?.size).toBe(0);
  expect([...(seen.get("after-delete")?.keys() ?? [])]).toEqual([kept.id]);
  expect((await queue.getJob(after.id))?.meta.result).toBe(16);
  expect((await queue.getJob(alone.id))?.state).toBe("completed");
});
