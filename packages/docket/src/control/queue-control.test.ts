import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker, JobCancelledError } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

/** Long enough for a running node to have fetched a job it should not have. */
const quietMs = 1_000;

const quick = defineWorker({ name: "quick", queue: "work", perform: () => "ok" });

async function stateOf(id: string): Promise<string | undefined> {
  const [row] = await db.sql<{ state: string }[]>`SELECT state FROM docket.jobs WHERE id = ${id}`;
  return row?.state;
}

/** Checks over `quietMs` that a job stays available (nothing runs it). */
async function staysAvailable(id: string): Promise<void> {
  const until = Date.now() + quietMs;
  while (Date.now() < until) {
    const [row] = await db.sql<{ state: string; attempted_by: string | null }[]>`
      SELECT state, attempted_by FROM docket.jobs WHERE id = ${id}`;
    // Who ran it, if anyone: a node name says which queue instance ignored the pause.
    expect({ id, ...row }).toEqual({ id, state: "available", attempted_by: null });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function paused(
  name: string,
): Promise<{ paused: boolean; concurrency: number | null } | undefined> {
  const [row] = await db.sql<{ paused: boolean; concurrency: number | null }[]>`
    SELECT paused, concurrency FROM docket.queues WHERE name = ${name}`;
  return row;
}

describe("queues at run time", () => {
  test("a queue paused from another node runs nothing until resumed", async () => {
    const runner = makeQueue({ queues: { work: 2 }, workers: [quick] });
    const admin = makeQueue();
    await runner.start();
    await admin.pauseQueue("work");
    await waitFor(() => runner.checkQueue("work")?.paused, { what: "the runner to pause" });
    const job = await admin.insert(quick, {});
    await staysAvailable(job.id);
    await admin.resumeQueue("work");
    await waitFor(async () => (await stateOf(job.id)) === "completed", { what: "the job to run" });
    expect(await paused("work")).toEqual({ paused: false, concurrency: null });
  });

  test("a paused queue stays paused after a restart", async () => {
    const first = makeQueue({ node: "first", queues: { work: 2 }, workers: [quick] });
    await first.start();
    await first.pauseQueue("work");
    expect(first.checkQueue("work")?.paused).toBe(true); // this node at once
    await first.stop();
    expect(await paused("work")).toMatchObject({ paused: true });

    const restarted = makeQueue({ node: "restarted", queues: { work: 2 }, workers: [quick] });
    await restarted.start();
    expect(restarted.checkQueue("work")?.paused).toBe(true);
    const job = await restarted.insert(quick, {});
    await staysAvailable(job.id);
    await makeQueue().resumeQueue("work");
    await waitFor(async () => (await stateOf(job.id)) === "completed", { what: "the job to run" });
  });

  test("scaleQueue changes the limit on every node, is kept, and null goes back to the configured one", async () => {
    let running = 0;
    let most = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const blocking = defineWorker({
      name: "blocking",
      queue: "work",
      perform: async () => {
        running++;
        most = Math.max(most, running);
        await gate;
        running--;
      },
    });
    const node = makeQueue({ queues: { work: 1 }, workers: [blocking] });
    await node.start();
    await makeQueue().scaleQueue("work", 3);
    await waitFor(() => node.checkQueue("work")?.limit === 3, { what: "the node to scale" });
    const jobs = await node.insertMany(blocking, [{}, {}, {}, {}]);
    await waitFor(() => running === 3, { what: "three jobs to run at once" });
    release();
    await waitFor(async () => {
      const states = await Promise.all(jobs.map((j) => stateOf(j.id)));
      return states.every((s) => s === "completed");
    });
    expect(most).toBe(3);
    expect(await paused("work")).toEqual({ paused: false, concurrency: 3 });
    await node.stop();

    const restarted = makeQueue({ queues: { work: 1 }, workers: [blocking] });
    await restarted.start();
    expect(restarted.checkQueue("work")?.limit).toBe(3);
    await restarted.scaleQueue("work", null);
    expect(restarted.checkQueue("work")?.limit).toBe(1);
    expect(await paused("work")).toEqual({ paused: false, concurrency: null });
    await expect(restarted.scaleQueue("work", 0)).rejects.toThrow(/limit must be an integer/);
  });

  test("{ node } pauses one node only, and is not stored", async () => {
    const a = makeQueue({ queues: { work: 1 }, workers: [quick] });
    const b = makeQueue({ queues: { work: 1 }, workers: [quick] });
    await Promise.all([a.start(), b.start()]);
    await makeQueue().pauseQueue("work", { node: a.node });
    await waitFor(() => a.checkQueue("work")?.paused, { what: "node a to pause" });
    expect(b.checkQueue("work")?.paused).toBe(false);
    expect(await paused("work")).toMatchObject({ paused: false });
    const job = await b.insert(quick, {});
    await waitFor(async () => (await stateOf(job.id)) === "completed");
    await b.pauseQueue("work", { node: b.node }); // this node: applied before it returns
    expect(b.checkQueue("work")?.paused).toBe(true);
    await a.resumeQueue("work", { node: a.node });
    expect(a.checkQueue("work")?.paused).toBe(false);
  });

  test("cancelling an executing job aborts its signal on the node running it", async () => {
    let started = false;
    let aborted = false;
    let reason: unknown;
    const waiting = defineWorker({
      name: "waits.for.signal",
      queue: "work",
      perform: (_job, { signal }) =>
        new Promise((_resolve, reject) => {
          started = true;
          signal.addEventListener("abort", () => {
            aborted = true;
            reason = signal.reason;
            reject(signal.reason);
          });
        }),
    });
    const runner = makeQueue({ queues: { work: 1 }, workers: [waiting] });
    const admin = makeQueue();
    await runner.start();
    const job = await admin.insert(waiting, {});
    await waitFor(() => started, { what: "the job to start" });
    expect(await admin.cancelJob(job.id)).toMatchObject({ id: job.id, state: "cancelled" });
    // Only the control channel's NOTIFY aborts a cancelled job's signal (nothing polls for it), so
    // the abort comes through it or not at all; how fast it comes is bench/cancel-latency.mjs.
    await waitFor(() => aborted, { what: "the signal to abort" });
    expect(reason).toBeInstanceOf(JobCancelledError);
    // The attempt's failure is not stored over the cancel.
    await waitFor(() => runner.checkQueue("work")?.running === 0);
    expect(await runner.getJob(job.id)).toMatchObject({ state: "cancelled", errors: [] });
  });
});
