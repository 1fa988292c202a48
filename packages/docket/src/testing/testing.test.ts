import { beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import {
  ArgsError,
  cancel,
  defineWorker,
  type Job,
  JobTimeoutError,
  type Queue,
  snooze,
} from "../index.js";
import { assertEnqueued, drainQueue, performJob, refuteEnqueued } from "./index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const welcome = defineWorker({
  name: "welcome.email",
  queue: "mailers",
  args: z.object({ to: z.string().email(), name: z.string().optional() }),
  maxAttempts: 3,
  perform: (job) => {
    if (job.args.to.endsWith("@bounce.test")) throw new Error("mailbox full");
    if (job.args.to.endsWith("@later.test")) return snooze("30s");
    if (job.args.to.endsWith("@gone.test")) return cancel("user deleted");
    return { sent: job.args.to };
  },
});

describe("performJob", () => {
  test("returns the outcome and the job as the queue would store it", async () => {
    const done = await performJob(welcome, { to: "a@b.test" });
    expect(done).toMatchObject({ outcome: "completed", result: { sent: "a@b.test" } });
    expect(done.job).toMatchObject({
      state: "completed",
      attempt: 1,
      meta: { result: { sent: "a@b.test" } },
    });

    const failed = await performJob(welcome, { to: "x@bounce.test" });
    expect(failed.outcome).toBe("retryable");
    expect(failed.job.errors).toMatchObject([{ attempt: 1, error: "Error: mailbox full" }]);
    expect(+failed.job.scheduledAt).toBeGreaterThan(Date.now() + 10_000); // backoff
    const last = await performJob(welcome, { to: "x@bounce.test" }, { attempt: 3 });
    expect(last.outcome).toBe("discarded");

    const snoozed = await performJob(welcome, { to: "y@later.test" });
    expect(snoozed).toMatchObject({
      outcome: "snoozed",
      delayMs: 30_000,
      job: { state: "scheduled", attempt: 0 },
    });
    const cancelled = await performJob(welcome, { to: "z@gone.test" });
    expect(cancelled).toMatchObject({
      outcome: "cancelled",
      reason: "user deleted",
      job: { state: "cancelled" },
    });
  });

  test("checks args as an insert would, and applies the worker's timeout and the signal", async () => {
    await expect(performJob(welcome, { to: "not an address" })).rejects.toBeInstanceOf(ArgsError);
    const waits = {
      perform: (_job: unknown, { signal }: { signal: AbortSignal }) =>
        new Promise<void>((_, reject) => {
          signal.throwIfAborted();
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    };
    const timedOut = await performJob(
      defineWorker({ name: "slow", timeout: "50ms", ...waits }),
      {},
    );
    expect(timedOut.outcome).toBe("retryable");
    expect(timedOut.outcome === "retryable" && timedOut.error).toBeInstanceOf(JobTimeoutError);
    const controller = new AbortController();
    const aborted = performJob(
      defineWorker({ name: "waits", ...waits }),
      {},
      { signal: controller.signal },
    );
    controller.abort(new Error("stop"));
    expect(await aborted).toMatchObject({ outcome: "retryable", error: new Error("stop") });
  });
});

describe("manual mode, drainQueue and assertions", () => {
  beforeEach(async () => {
    await db.sql`DELETE FROM docket.jobs`;
  });

  test("jobs wait until drained; assertEnqueued and refuteEnqueued see them", async () => {
    const queue = makeQueue({ testing: "manual", queues: { mailers: 5 }, workers: [welcome] });
    await queue.start(); // runs nothing in manual mode
    await queue.insertMany(welcome, [{ to: "a@b.test", name: "A" }, { to: "c@bounce.test" }]);
    await queue.insert(welcome, { to: "later@b.test" }, { scheduleIn: "1h" });
    const job = await assertEnqueued(queue, { worker: welcome, args: { to: "a@b.test" } });
    expect(job.args).toEqual({ to: "a@b.test", name: "A" });
    await assertEnqueued(queue, { worker: "welcome.email", queue: "mailers", state: "scheduled" });
    await refuteEnqueued(queue, { worker: welcome, args: { to: "nobody@b.test" } });
    await expect(refuteEnqueued(queue, { worker: welcome, args: { name: "A" } })).rejects.toThrow(
      /expected no job of worker "welcome.email".*\n.*"to":"a@b.test"/,
    );
    await expect(
      assertEnqueued(queue, { worker: welcome, args: { to: "x@y.test" } }),
    ).rejects.toThrow(/jobs of that worker:\n[\s\S]*a@b.test/);

    expect(await drainQueue(queue, { queue: "mailers" })).toEqual({
      completed: 1,
      retryable: 1,
      discarded: 0,
      cancelled: 0,
      snoozed: 0,
    });
    await refuteEnqueued(queue, { worker: welcome, args: { to: "a@b.test" } });
    await assertEnqueued(queue, {
      worker: welcome,
      args: { to: "c@bounce.test" },
      state: "retryable",
    });
    expect(await drainQueue(queue, { withScheduled: true })).toMatchObject({ completed: 1 });
    await refuteEnqueued(queue, { worker: welcome });
  });

  test("withRecursion runs the jobs that drained jobs insert; a snooze runs once per drain", async () => {
    let queue: Queue | undefined;
    const chain = defineWorker({
      name: "chain",
      perform: async (job) => {
        const n = Number(job.args.n);
        if (n < 3) await queue?.insert(chain, { n: n + 1 });
        return n;
      },
    });
    const sleepy = defineWorker({ name: "sleepy", perform: () => snooze(0) });
    queue = makeQueue({ testing: "manual", workers: [chain, sleepy] });
    await queue.insert(chain, { n: 1 });
    expect(await drainQueue(queue)).toMatchObject({ completed: 1 });
    await assertEnqueued(queue, { worker: chain, args: { n: 2 } });
    expect(await drainQueue(queue, { withRecursion: true })).toMatchObject({ completed: 2 });
    await refuteEnqueued(queue, { worker: chain });
    await queue.insert(sleepy, {});
    expect(await drainQueue(queue, { withRecursion: true, withScheduled: true })).toMatchObject({
      snoozed: 1,
    });
  });

  test("a drain of every queue runs jobs in claim order across queues; a snooze of 0 ends available", async () => {
    const order: string[] = [];
    const note = (name: string, queue: string) =>
      defineWorker({ name, queue, perform: (job) => void order.push(String(job.args.tag)) });
    const a = note("in.a", "a");
    const b = note("in.b", "b");
    const sleepy = defineWorker({ name: "sleepy0", queue: "b", perform: () => snooze(0) });
    const queue = makeQueue({ testing: "manual", workers: [a, b, sleepy] });
    await queue.insert(a, { tag: "a-low" }, { priority: 5 });
    await queue.insert(b, { tag: "b-high" }, { priority: 0 });
    await queue.insert(a, { tag: "a-high" }, { priority: 1 });
    await queue.insert(b, { tag: "b-low" }, { priority: 6 });
    expect(await drainQueue(queue, { withLimit: 2 })).toMatchObject({ completed: 2 });
    expect(order).toEqual(["b-high", "a-high"]);
    const snoozed = await queue.insert(sleepy, {}, { priority: 9 });
    expect(await drainQueue(queue, { withRecursion: true })).toMatchObject({
      completed: 2,
      snoozed: 1,
    });
    expect(order).toEqual(["b-high", "a-high", "a-low", "b-low"]);
    expect(await queue.getJob(snoozed.id)).toMatchObject({
      state: "available",
      attempt: 0,
      meta: { snoozed: 1 },
    });
  });

  test("withSafety: false throws the first error; withLimit stops early", async () => {
    const queue = makeQueue({ testing: "manual", workers: [welcome] });
    await queue.insertMany(welcome, [{ to: "a@b.test" }, { to: "b@b.test" }, { to: "c@b.test" }]);
    expect(await drainQueue(queue, { withLimit: 2 })).toMatchObject({ completed: 2 });
    await queue.insert(welcome, { to: "d@bounce.test" });
    await expect(drainQueue(queue, { withSafety: false })).rejects.toThrow("mailbox full");
  });
});

describe("inline mode", () => {
  test("insert performs the job at once, without the database", async () => {
    let queue: Queue | undefined;
    const parent = defineWorker({
      name: "parent",
      perform: async () =>
        ((await queue?.insert(welcome, { to: "kid@b.test" }))?.state ?? null) as string | null,
    });
    // Nothing listens on port 1: any query would fail.
    queue = makeQueue({
      testing: "inline",
      connection: "postgres://nobody@127.0.0.1:1/none",
      workers: [welcome],
    });
    await queue.start(); // runs nothing, connects nowhere
    const job = await queue.insert(welcome, { to: "a@b.test" });
    expect(job).toMatchObject({
      state: "completed",
      attempt: 1,
      meta: { result: { sent: "a@b.test" } },
    });
    const failed = await queue.insert(welcome, { to: "a@bounce.test" });
    expect(failed).toMatchObject({
      state: "retryable",
      errors: [{ error: "Error: mailbox full" }],
    });
    await expect(queue.insert(welcome, { to: "bad" })).rejects.toBeInstanceOf(ArgsError);
    expect(await queue.insert(parent, {})).toMatchObject({
      state: "completed",
      meta: { result: "completed" },
    });
  });
});

describe("performJob with dependencies", () => {
  test("dependencies() returns the given jobs, by id, in order; none by default", async () => {
    const total = defineWorker({
      name: "testing.total",
      async perform(_job, { dependencies }) {
        const deps = [...(await dependencies()).values()];
        return {
          ids: deps.map((d) => d.id),
          sum: deps.reduce((n, d) => n + Number(d.meta.result), 0),
        };
      },
    });
    const dep = (id: string, result: number) =>
      ({ id, state: "completed", meta: { result } }) as unknown as Job;
    const run = await performJob(total, {}, { dependencies: [dep("7", 2), dep("3", 5)] });
    expect(run).toMatchObject({ outcome: "completed", result: { ids: ["7", "3"], sum: 7 } });
    const alone = await performJob(total, {});
    expect(alone).toMatchObject({ outcome: "completed", result: { ids: [], sum: 0 } });
  });
});
