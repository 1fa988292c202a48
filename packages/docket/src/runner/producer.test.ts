import postgres from "postgres";
import { describe, expect, test } from "vitest";
import { lockWaiters, useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { nextEvent, waitFor } from "../../../../test/support/wait.js";
import { defineWorker } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

/** The poll interval of these tests: every tick is a chance to claim what it should not. */
const pollMs = 50;
/** Ten poll ticks: how long a count must stay put to show that no tick changes it. */
const quietMs = 10 * pollMs;

/** A worker whose attempts wait until `open()`; `started` lists the jobs whose attempt began. */
function gated(name: string, queue: string) {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const started: string[] = [];
  const worker = defineWorker({
    name,
    queue,
    perform: (job) => {
      started.push(job.id);
      return gate;
    },
  });
  return { worker, started, open: () => open() };
}

/** How many jobs of `worker` are in `state`. */
async function inState(worker: string, state: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs WHERE worker = ${worker} AND state = ${state}`;
  return row?.n ?? 0;
}

/** Waits until `value()` is `expected` while `also()` holds; a timeout says the last value. */
async function reaches(
  value: () => Promise<number>,
  expected: number,
  also: () => boolean,
  what: string,
): Promise<void> {
  let last: number | undefined;
  const check = async () => {
    last = await value();
    return last === expected && also();
  };
  await waitFor(check, { what }).catch((error: unknown) => {
    throw new Error(`${String(error)}; last count: ${last}`);
  });
}

/** Checks over `quietMs` (ten poll ticks) that `value()` stays `expected`. */
async function staysAt(value: () => Promise<number>, expected: number): Promise<void> {
  const until = Date.now() + quietMs;
  while (Date.now() < until) {
    expect(await value()).toBe(expected);
    await new Promise((resolve) => setTimeout(resolve, pollMs / 2));
  }
}

describe("claim sizing", () => {
  test.each([
    { prefetch: 3, held: 5, label: "3" },
    { prefetch: 0, held: 2, label: "0" },
  ])(
    "with prefetch $label a node of limit 2 holds $held jobs and runs 2",
    async ({ prefetch, held }) => {
      const name = `sized.${prefetch}`;
      const { worker, started, open } = gated(name, name);
      const queue = makeQueue({
        queues: { [name]: { limit: 2, prefetch } },
        workers: [worker],
        pollInterval: pollMs / 1000,
      });
      await queue.insertMany(
        worker,
        Array.from({ length: 10 }, () => ({})),
      );
      await queue.start();
      const executing = () => inState(name, "executing");
      await reaches(executing, held, () => started.length === 2, `${held} jobs held, 2 running`);
      await staysAt(executing, held);
      expect(started).toHaveLength(2);
      expect(queue.checkQueue(name)?.running).toBe(held);
      open();
      await waitFor(async () => (await inState(name, "completed")) === 10, {
        what: "every job to run",
      });
    },
  );

  test('"auto" claims only for free slots at first, then grows with the completion rate up to 100 a slot', async () => {
    const name = "sized.auto";
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    const started: string[] = [];
    const worker = defineWorker({
      name,
      queue: name,
      perform: (job) => {
        if (!gate) return;
        started.push(job.id);
        return gate;
      },
    });
    const close = () => {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    };
    const queue = makeQueue({
      queues: { [name]: { limit: 1, prefetch: "auto" } },
      workers: [worker],
      pollInterval: pollMs / 1000,
    });
    const executing = () => inState(name, "executing");
    const completed = () => inState(name, "completed");

    // No completion yet, so no rate: only the one slot is filled.
    close();
    await queue.insertMany(
      worker,
      Array.from({ length: 10 }, () => ({})),
    );
    await queue.start();
    await reaches(executing, 1, () => started.length === 1, "one job held and running");
    await staysAt(executing, 1);
    open();
    gate = undefined;
    await waitFor(async () => (await completed()) === 10, { what: "the first jobs to run" });

    // Thousands of jobs a second: 100 ms of them is far more than the cap of 100 a slot.
    const fast = 5_000;
    await queue.insertMany(
      worker,
      Array.from({ length: fast }, () => ({})),
    );
    await waitFor(async () => (await completed()) === 10 + fast, {
      timeoutMs: 30_000,
      what: "the fast jobs to run",
    });

    close();
    started.length = 0;
    await queue.insertMany(
      worker,
      Array.from({ length: 200 }, () => ({})),
    );
    await reaches(executing, 1 + 100, () => started.length === 1, "1 running and 100 buffered");
    await staysAt(executing, 101);
    open();
    gate = undefined;
    await waitFor(async () => (await completed()) === 10 + fast + 200, {
      what: "every job to run",
    });
  }, 60_000);
});

test("after a failed fetch the producer fetches again once its back-off ends, not at the next poll", async () => {
  const worker = defineWorker({ name: "after-backoff", queue: "backoff", perform: () => {} });
  // A 60 s poll: only the retry after the back-off (at most 1 s) can take the job in time.
  const queue = makeQueue({ queues: { backoff: 1 }, workers: [worker], pollInterval: 60 });
  const blocker = await db.sql.reserve();
  try {
    // The start fetch waits on a table lock; its backend is then terminated, so it fails.
    await blocker`BEGIN`;
    await blocker`LOCK TABLE docket.jobs IN ACCESS EXCLUSIVE MODE`;
    await queue.start();
    const [waiting] = await lockWaiters(db, "docket", "the fetch to wait on the lock");
    const failed = nextEvent(queue, "queue:error", ({ source }) => source === "producer:backoff");
    await db.sql`SELECT pg_terminate_backend(${waiting as number})`;
    await failed;
    // Inserted (and notified) during the back-off, when a wake-up asks for no fetch.
    await blocker`COMMIT`;
    const [row] = await db.sql<{ id: string }[]>`
      INSERT INTO docket.jobs (queue, worker) VALUES ('backoff', 'after-backoff') RETURNING id::text`;
    await waitFor(
      async () => {
        const job = await queue.getJob(row?.id as string);
        return job?.state === "completed";
      },
      { timeoutMs: 20_000, what: "the job to run after the back-off" },
    );
  } finally {
    blocker.release();
  }
});

test("while outcomes pile up unstored the producer claims nothing, and resumes once they are stored", async () => {
  const name = "throttled";
  const { worker: lead, started, open } = gated("throttled.lead", name);
  const fast = defineWorker({ name: "throttled.fast", queue: name, perform: () => {} });
  // One outcome per batch: two waiting behind the one being stored is a backlog.
  const queue = makeQueue({
    queues: { [name]: { limit: 1, prefetch: 0 } },
    workers: [lead, fast],
    pollInterval: pollMs / 1000,
    ackBatchSize: 1,
    ackInterval: 0,
  });
  const first = await queue.insert(lead, {});
  await queue.start();
  await waitFor(() => started.length === 1, { what: "the lead job to start" });
  const blocker = await db.sql.reserve();
  try {
    // The lead job's outcome waits on this row lock: the database is slow for the acker only.
    await blocker`BEGIN`;
    await blocker`SELECT 1 FROM docket.jobs WHERE id = ${first.id} FOR UPDATE`;
    await queue.insertMany(
      fast,
      Array.from({ length: 20 }, () => ({})),
    );
    open();
    await lockWaiters(db, "docket", "the lead job's ack to wait on the row lock");
    // Two fast jobs ran and their outcomes wait behind the lead's: then claiming stops.
    const available = () => inState("throttled.fast", "available");
    await reaches(available, 18, () => true, "two fast jobs claimed, 18 left");
    await staysAt(available, 18);
    expect(await inState("throttled.fast", "completed")).toBe(0);
    await blocker`COMMIT`;
    await waitFor(async () => (await inState("throttled.fast", "completed")) === 20, {
      what: "every job to run once the outcomes are stored",
    });
  } finally {
    // A failed check must not leave the lock held while the queue stops (and flushes).
    await blocker`ROLLBACK`;
    blocker.release();
  }
});

test("a job cancelled while it waits in the prefetch buffer never starts", async () => {
  const name = "buffered.cancel";
  const { worker, started, open } = gated(name, name);
  const runner = makeQueue({
    queues: { [name]: { limit: 1, prefetch: 2 } },
    workers: [worker],
    pollInterval: pollMs / 1000,
  });
  const admin = makeQueue();
  const [a, b, c] = await admin.insertMany(worker, [{}, {}, {}]);
  await runner.start();
  await reaches(
    () => inState(name, "executing"),
    3,
    () => started.length === 1,
    "1 running and 2 buffered",
  );
  expect(started).toEqual([a?.id]);
  await admin.cancelJob(b?.id as string);
  // Sent after the cancel on the same channel, so applied after it: a second slot, which the
  // cancelled job, first in the buffer, would take if it were still to run.
  await admin.scaleQueue(name, 2, { node: runner.node });
  await waitFor(() => started.length === 2, { what: "a second job to start" });
  expect(started).toEqual([a?.id, c?.id]);
  open();
  await waitFor(async () => (await inState(name, "completed")) === 2, { what: "a and c to run" });
  expect(await runner.getJob(b?.id as string)).toMatchObject({ state: "cancelled", errors: [] });
  expect(started).toEqual([a?.id, c?.id]);
});

describe("claims on an idle queue", () => {
  test("a job that finishes claims nothing more when its claim was not full: one claim per job", async () => {
    let claims = 0;
    // The node's own postgres.js client, with a hook on every statement it sends.
    const sql = postgres(db.url, {
      max: 3,
      onnotice: () => {},
      debug: (_connection, query) => {
        if (query.includes("SET state = 'executing', attempt = j.attempt + 1")) claims++;
      },
    });
    try {
      const worker = defineWorker({ name: "idle.one", queue: "idle", perform: () => {} });
      // A 60 s poll: only notifications wake the producer during the test.
      const queue = makeQueue({
        connection: sql,
        queues: { idle: 5 },
        workers: [worker],
        pollInterval: 60,
      });
      await queue.start();
      await waitFor(() => claims >= 1, { what: "the claim of the start" });
      const jobs = 10;
      for (let k = 0; k < jobs; k++) {
        const job = await queue.insert(worker, {});
        await waitFor(async () => (await queue.getJob(job.id))?.state === "completed", {
          what: `job ${k} to complete`,
        });
      }
      await queue.stop();
      // The start's claim and one per job; a claim after each finished job would double it.
      expect(claims).toBe(1 + jobs);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  test("a job notified while a scale-down left no free slot starts when one frees, not at the next poll", async () => {
    const name = "idle.busy";
    const { worker: slow, started, open } = gated("idle.slow", name);
    const fast = defineWorker({ name: "idle.fast", queue: name, perform: () => {} });
    const queue = makeQueue({
      queues: { [name]: { limit: 2, prefetch: 0 } },
      workers: [slow, fast],
      pollInterval: 60,
    });
    await queue.start();
    // Its claim asked for two and got one: not full, so its end would claim nothing more.
    await queue.insert(slow, {});
    await waitFor(() => started.length === 1, { what: "the slow job to start" });
    await queue.scaleQueue(name, 1);
    await waitFor(() => queue.checkQueue(name)?.limit === 1, { what: "the scale-down" });
    // Its notification finds no free slot: no claim then, and no poll is due for a minute.
    const next = await queue.insert(fast, {});
    await staysAt(() => inState("idle.fast", "available"), 1);
    open();
    await waitFor(async () => (await queue.getJob(next.id))?.state === "completed", {
      what: "the job notified while no slot was free to run once one is",
    });
  });
});
