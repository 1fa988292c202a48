import { afterEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker } from "../index.js";
import { maxTimerMs, setLongTimeout } from "../validation/long-timer.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

/** Node's own complaint when a timer is set beyond 2³¹−1 ms (it then fires after 1 ms). */
const overflows: Error[] = [];
const onWarning = (warning: Error) => {
  if (warning.name === "TimeoutOverflowWarning") overflows.push(warning);
};
process.on("warning", onWarning);
afterEach(() => {
  overflows.length = 0;
});

async function stateOf(id: string): Promise<string | undefined> {
  const [row] = await db.sql<{ state: string }[]>`SELECT state FROM docket.jobs WHERE id = ${id}`;
  return row?.state;
}

const day = 86_400_000;

describe("durations of 2³¹ ms or more", () => {
  test("a queue with 30-day intervals sets no timer Node would cut to 1 ms", async () => {
    let ran: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      ran = resolve;
    });
    const worker = defineWorker({
      name: "month-long",
      timeout: "30d",
      perform: () => {
        ran();
        return "done";
      },
    });
    const queue = makeQueue({
      queues: { default: 2 },
      pollInterval: "30d",
      stageInterval: "30d",
      ackInterval: "30d",
      shutdownGrace: "30d",
      heartbeat: { interval: "30d", timeout: "60d" },
      leadership: { ttl: 1e9 },
      workers: [worker],
    });
    await queue.start();
    const job = await queue.insert(worker, {});
    // The acker waits its 30 days unless a batch fills or the queue stops: stop() stores it.
    await running;
    await queue.stop({ grace: "30d" });
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a tick
    expect(await stateOf(job.id)).toBe("completed");
    expect(overflows.map((w) => w.message)).toEqual([]);
  });

  test("a worker timeout of 30 days does not time the job out at once", async () => {
    const worker = defineWorker({
      name: "patient",
      timeout: "30d",
      perform: async (_job, { signal }) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return { aborted: signal.aborted };
      },
    });
    const queue = makeQueue({ queues: { default: 1 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {});
    const stored = await waitFor(
      async () => {
        const j = await queue.getJob(job.id);
        return j !== null && j.state !== "available" && j.state !== "executing" && j;
      },
      { what: "the job's outcome" },
    );
    expect(stored.errors).toEqual([]);
    expect(stored).toMatchObject({ state: "completed", meta: { result: { aborted: false } } });
  });

  test("stop() with a 30-day grace lets a running job finish instead of taking it back", async () => {
    let release: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = defineWorker({
      name: "finishes",
      perform: async (_job, { signal }) => {
        release();
        await new Promise((resolve) => setTimeout(resolve, 200));
        return { aborted: signal.aborted };
      },
    });
    const queue = makeQueue({ queues: { default: 1 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {});
    await started;
    await queue.stop({ grace: "30d" });
    const [stored] = await db.sql`SELECT state, meta FROM docket.jobs WHERE id = ${job.id}`;
    expect(stored).toMatchObject({ state: "completed", meta: { result: { aborted: false } } });
  });

  test("a long timeout is chained: it has not fired when a 1 ms timer has", async () => {
    let fired = false;
    const timer = setLongTimeout(() => {
      fired = true;
    }, maxTimerMs + day);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toBe(false);
    timer.clear();
    await new Promise((resolve) => setImmediate(resolve));
    expect(overflows).toEqual([]);
  });
});
