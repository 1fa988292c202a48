import { beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { defineWorker, InsertError } from "../index.js";
import { drainQueue } from "../testing/index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const ran: string[] = [];

const step = defineWorker({
  name: "wf.step",
  queue: "wf",
  args: z.object({ label: z.string() }),
  perform: ({ args }) => {
    ran.push(args.label);
    return args.label.length;
  },
});
const summary = defineWorker({
  name: "wf.summary",
  queue: "wf",
  args: z.object({ label: z.string() }),
  async perform({ args }, { dependencies }) {
    ran.push(args.label);
    const byStep = new Map(
      [...(await dependencies()).values()].map((job) => [job.meta["docket:step"], job.meta.result]),
    );
    return Object.fromEntries(byStep);
  },
});

async function countJobs(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.jobs`;
  return row?.n ?? -1;
}

beforeEach(async () => {
  ran.length = 0;
  await db.sql`TRUNCATE docket.jobs`;
});

describe("queue.workflow()", () => {
  test("fan-out, fan-in and a chain run in dependency order on a started queue", async () => {
    const queue = makeQueue({ workers: [step, summary], queues: { wf: 5 } });
    const flow = queue.workflow();
    // Added out of order: "summary" names steps added after it.
    flow.add(
      "summary",
      summary,
      { label: "summary" },
      {
        dependsOn: ["row-0", "row-1", "row-2", "row-3"],
      },
    );
    flow.add("fetch", step, { label: "fetch" });
    for (let i = 0; i < 4; i++)
      flow.add(`row-${i}`, step, { label: `row-${i}` }, { dependsOn: ["fetch"] });
    flow.add("publish", step, { label: "publish" }, { dependsOn: ["summary"] });
    const jobs = await flow.insert();
    expect([...jobs.keys()]).toEqual([
      "summary",
      "fetch",
      "row-0",
      "row-1",
      "row-2",
      "row-3",
      "publish",
    ]);
    expect(jobs.get("fetch")?.state).toBe("available");
    expect(jobs.get("summary")?.state).toBe("scheduled");
    await queue.start();
    const publish = jobs.get("publish");
    if (!publish) throw new Error("publish expected");
    await queue.waitForJob(publish.id, { timeout: "20s" });
    expect(ran[0]).toBe("fetch");
    expect(ran.slice(1, 5).sort()).toEqual(["row-0", "row-1", "row-2", "row-3"]);
    expect(ran.slice(5)).toEqual(["summary", "publish"]);
    const done = await queue.getJob(jobs.get("summary")?.id as string);
    expect(done?.meta.result).toEqual({ "row-0": 5, "row-1": 5, "row-2": 5, "row-3": 5 });
  });

  test("a cycle is refused with the steps that form it, nothing written", async () => {
    const queue = makeQueue({ workers: [step] });
    const flow = queue
      .workflow()
      .add("a", step, { label: "a" })
      .add("b", step, { label: "b" }, { dependsOn: ["a", "d"] })
      .add("c", step, { label: "c" }, { dependsOn: ["b"] })
      .add("d", step, { label: "d" }, { dependsOn: ["c"] });
    await expect(flow.insert()).rejects.toThrow(/steps "b" → "d" → "c" → "b" form a cycle/);
    expect(await countJobs()).toBe(0);
  });

  test("an unknown step, a repeated name or a step waiting for itself is refused, nothing written", async () => {
    const queue = makeQueue({ workers: [step] });
    const unknown = queue
      .workflow()
      .add("a", step, { label: "a" })
      .add("b", step, { label: "b" }, { dependsOn: ["nope"] });
    await expect(unknown.insert()).rejects.toThrow(/"b" depends on "nope", which is no step/);
    const twice = queue.workflow().add("a", step, { label: "a" }).add("a", step, { label: "x" });
    await expect(twice.insert()).rejects.toThrow(/two steps are named "a"/);
    const self = queue.workflow().add("a", step, { label: "a" }, { dependsOn: ["a"] });
    await expect(self.insert()).rejects.toThrow(/depends on itself/);
    const badArgs = queue
      .workflow()
      .add("a", step, { label: "a" })
      .add("b", step, { label: 7 } as never, { dependsOn: ["a"] });
    await expect(badArgs.insert()).rejects.toThrow(/args for worker "wf.step"/);
    const badOption = queue.workflow().add("a", step, { label: "a" }, { tx: {} } as never);
    await expect(badOption.insert()).rejects.toThrow(InsertError);
    expect(await countJobs()).toBe(0);
  });

  test("over 10,000 jobs, or the inline testing mode, is refused before anything is written", async () => {
    const queue = makeQueue({ workers: [step] });
    const big = queue.workflow();
    for (let i = 0; i <= 10_000; i++) big.add(`s-${i}`, step, { label: "x" });
    await expect(big.insert()).rejects.toThrow(/10001 jobs, over the limit of 10000/);
    const inline = makeQueue({ workers: [step], testing: "inline" });
    await expect(inline.workflow().add("a", step, { label: "a" }).insert()).rejects.toThrow(
      /"inline" testing mode/,
    );
    expect(await countJobs()).toBe(0);
  });

  test("inside a caller's transaction: rolled back with it", async () => {
    const queue = makeQueue({ workers: [step] });
    await db.sql
      .begin(async (tx) => {
        await queue
          .workflow()
          .add("a", step, { label: "a" })
          .add("b", step, { label: "b" }, { dependsOn: ["a"] })
          .insert({ tx });
        throw new Error("roll back");
      })
      .catch(() => {});
    expect(await countJobs()).toBe(0);
  });

  test("a failed step cancels what waits for it; onDependencyFailure 'run' still runs", async () => {
    const fails = defineWorker({
      name: "wf.fails",
      queue: "wf",
      maxAttempts: 1,
      perform: () => {
        throw new Error("boom");
      },
    });
    const queue = makeQueue({ workers: [step, fails] });
    const jobs = await queue
      .workflow()
      .add("bad", fails, {})
      .add("next", step, { label: "next" }, { dependsOn: ["bad"] })
      .add("last", step, { label: "last" }, { dependsOn: ["next"] })
      .add(
        "cleanup",
        step,
        { label: "cleanup" },
        { dependsOn: ["bad"], onDependencyFailure: "run" },
      )
      .insert();
    await drainQueue(queue, { queue: "wf", withRecursion: true });
    const state = async (name: string) => (await queue.getJob(jobs.get(name)?.id as string))?.state;
    expect(await state("bad")).toBe("discarded");
    expect(await state("next")).toBe("cancelled");
    expect(await state("last")).toBe("cancelled");
    expect(await state("cleanup")).toBe("completed");
    expect(ran).toEqual(["cleanup"]);
  });
});
