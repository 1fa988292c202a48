import { describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { nextEvent, waitFor } from "../../../../test/support/wait.js";
import { cancel, defineWorker, type Job, type JobState, type Queue, snooze } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

async function stateOf(id: string): Promise<Job> {
  const [row] = await db.sql<Job[]>`
    SELECT id::text, state, attempt, errors, meta, scheduled_at AS "scheduledAt", attempted_by AS "attemptedBy",
      max_attempts AS "maxAttempts"
    FROM docket.jobs WHERE id = ${id}`;
  if (!row) throw new Error(`job ${id} is gone`);
  return row;
}

/** Waits until the producer of `name` has had its first fetch answered (the one at start). */
function firstFetchDone(queue: Queue, name: string) {
  return waitFor(
    async () => (await queue.health()).queues.find((q) => q.queue === name)?.lastFetchAt,
    { what: `the first fetch of ${name}` },
  );
}

function reaches(id: string, state: JobState) {
  return waitFor(
    async () => {
      const job = await stateOf(id);
      return job.state === state && job;
    },
    { what: `job ${id} to be ${state}` },
  );
}

describe("running jobs", () => {
  test("a returned value completes the job and is kept in meta.result", async () => {
    const worker = defineWorker({
      name: "double",
      queue: "q1",
      perform: (job) => ({ twice: Number(job.args.n) * 2 }),
    });
    const queue = makeQueue({ queues: { q1: 2 }, workers: [worker] });
    await queue.start();
    const completed = nextEvent(queue, "job:complete");
    const job = await queue.insert(worker, { n: 21 });
    const [event] = (await completed) as [
      { job: Job; result: unknown; durationMs: number; queueTimeMs: number },
    ];
    expect(event.job.id).toBe(job.id);
    expect(event.result).toEqual({ twice: 42 });
    expect(event.durationMs).toEqual(expect.any(Number));
    const stored = await queue.getJob(job.id);
    expect(stored).toMatchObject({
      state: "completed",
      attempt: 1,
      meta: { result: { twice: 42 } },
      attemptedBy: queue.node,
    });
    expect(stored?.completedAt).toBeInstanceOf(Date);
  });

  test("a throw retries with backoff, keeping every error, then discards after maxAttempts", async () => {
    let calls = 0;
    const worker = defineWorker({
      name: "flaky",
      queue: "q2",
      maxAttempts: 3,
      backoff: () => 0,
      perform: () => {
        calls++;
        throw new Error(`boom ${calls}`);
      },
    });
    const queue = makeQueue({ queues: { q2: 1 }, workers: [worker] });
    const discarded = nextEvent(queue, "job:discard");
    await queue.start();
    const job = await queue.insert(worker, {});
    await discarded;
    const stored = await reaches(job.id, "discarded");
    expect(calls).toBe(3);
    expect(stored.attempt).toBe(3);
    expect(stored.errors.map((e) => [e.attempt, e.error])).toEqual([
      [1, "Error: boom 1"],
      [2, "Error: boom 2"],
      [3, "Error: boom 3"],
    ]);
    expect(stored.errors[0]?.stack).toMatch(/boom 1/);
    expect(Date.parse(stored.errors[0]?.at ?? "")).not.toBeNaN();
  });

  test("the default backoff is Oban's 15 + 2^attempt seconds with up to 10% jitter", async () => {
    const worker = defineWorker({
      name: "fails-once",
      queue: "q3",
      perform: () => {
        throw new Error("no");
      },
    });
    const queue = makeQueue({ queues: { q3: 1 }, workers: [worker] });
    const failed = nextEvent(queue, "job:error");
    await queue.start();
    const job = await queue.insert(worker, {});
    await failed;
    const [row] = await db.sql<{ state: string; delay: number }[]>`
      SELECT state, extract(epoch FROM scheduled_at - attempted_at)::float AS delay FROM docket.jobs WHERE id = ${job.id}`;
    expect(row?.state).toBe("retryable");
    expect(row?.delay).toBeGreaterThanOrEqual(17 - 0.5);
    expect(row?.delay).toBeLessThanOrEqual(17 * 1.1 + 0.5);
  });

  test("a snooze schedules the job again without using up an attempt or adding an error", async () => {
    let calls = 0;
    const worker = defineWorker({
      name: "snoozer",
      queue: "q4",
      maxAttempts: 1,
      perform: () => (++calls < 3 ? snooze(0.05) : "done"),
    });
    const queue = makeQueue({ queues: { q4: 1 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {});
    const stored = await reaches(job.id, "completed");
    expect(calls).toBe(3);
    expect(stored.attempt).toBe(1);
    expect(stored.errors).toEqual([]);
    expect(stored.meta).toMatchObject({ snoozed: 2, result: "done" });
  });

  test("cancel() from perform cancels the job for good", async () => {
    let calls = 0;
    const worker = defineWorker({
      name: "canceller",
      queue: "q5",
      perform: () => {
        calls++;
        return cancel("user is gone");
      },
    });
    const queue = makeQueue({ queues: { q5: 1 }, workers: [worker] });
    const cancelled = nextEvent(queue, "job:cancel");
    await queue.start();
    const job = await queue.insert(worker, {});
    const [event] = (await cancelled) as [{ reason: string }];
    expect(event.reason).toBe("user is gone");
    const stored = await reaches(job.id, "cancelled");
    expect(calls).toBe(1);
    expect(stored.errors[0]?.error).toMatch(/user is gone/);
  });

  test("a timeout aborts the signal and the attempt is retried", async () => {
    let aborted: unknown;
    let calls = 0;
    const worker = defineWorker({
      name: "slow",
      queue: "q6",
      timeout: "100ms",
      backoff: () => 0,
      perform: (_job, { signal }) => {
        calls++;
        if (calls > 1) return "fast enough";
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => {
            aborted = signal.reason;
            reject(signal.reason);
          });
        });
      },
    });
    const queue = makeQueue({ queues: { q6: 1 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {});
    const stored = await reaches(job.id, "completed");
    expect(aborted).toBeInstanceOf(Error);
    expect(String(aborted)).toMatch(/timed out after 100ms/);
    expect(stored.attempt).toBe(2);
    expect(stored.errors).toHaveLength(1);
    expect(stored.errors[0]?.error).toMatch(/JobTimeoutError/);
  });

  test("a timeout counts even when perform ignores its signal", async () => {
    const worker = defineWorker({
      name: "stubborn",
      queue: "q7",
      timeout: 0.1,
      maxAttempts: 1,
      perform: () => new Promise(() => {}),
    });
    const queue = makeQueue({ queues: { q7: 1 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {});
    const stored = await reaches(job.id, "discarded");
    expect(stored.errors[0]?.error).toMatch(/timed out/);
  });

  test("jobs run in priority order, then by due time", async () => {
    const order: number[] = [];
    const worker = defineWorker({
      name: "ordered",
      queue: "q8",
      perform: (job) => {
        order.push(Number(job.args.n));
      },
    });
    const queue = makeQueue({ queues: { q8: 1 }, workers: [worker] });
    await queue.insert(worker, { n: 1 }, { priority: 5 });
    await queue.insert(worker, { n: 2 }, { priority: 0 });
    await queue.insert(worker, { n: 3 }, { priority: 9 });
    await queue.insert(worker, { n: 4 }, { priority: 0 });
    await queue.insert(
      worker,
      { n: 5 },
      { priority: 0, scheduledAt: new Date(Date.now() - 60_000) },
    );
    await queue.start();
    await waitFor(() => order.length === 5);
    expect(order).toEqual([5, 2, 4, 1, 3]);
  });

  test("a scheduled job does not run before its time", async () => {
    const started: number[] = [];
    const worker = defineWorker({
      name: "later",
      queue: "q9",
      perform: () => {
        started.push(Date.now());
      },
    });
    const queue = makeQueue({ queues: { q9: 1 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {}, { scheduleIn: "1.5s" });
    const stored = await reaches(job.id, "completed");
    expect(started).toHaveLength(1);
    const [row] = await db.sql<{ early: boolean }[]>`
      SELECT attempted_at < scheduled_at AS early FROM docket.jobs WHERE id = ${job.id}`;
    expect(row?.early).toBe(false);
    expect(+stored.scheduledAt).toBeLessThanOrEqual((started[0] as number) + 50);
  });

  test("stored args that no longer fit the schema discard the job instead of retrying it", async () => {
    const worker = defineWorker({
      name: "strict",
      queue: "q10",
      args: z.object({ id: z.number() }),
      perform: () => "ran",
    });
    const queue = makeQueue({ queues: { q10: 1 }, workers: [worker] });
    // Inserted by a node that does not know the worker, as an older version of the app would have.
    const job = await makeQueue().insert("strict", { id: "seven" }, { queue: "q10" });
    await queue.start();
    const stored = await reaches(job.id, "discarded");
    expect(stored.attempt).toBe(1);
    expect(stored.errors[0]?.error).toMatch(/no longer fit worker "strict".*id/);
  });

  test("a job of a worker this node does not know is retried, not lost", async () => {
    const queue = makeQueue({ queues: { q11: 1 } });
    await queue.start();
    const job = await queue.insert("unknown.worker", {}, { queue: "q11" });
    const stored = await reaches(job.id, "retryable");
    expect(stored.errors[0]?.error).toMatch(/"unknown\.worker" is not registered/);
  });

  test("a node runs only the queues it was given", async () => {
    let ran = 0;
    const worker = defineWorker({
      name: "elsewhere",
      queue: "not-mine",
      perform: () => {
        ran++;
      },
    });
    const queue = makeQueue({ queues: { mine: 2 }, workers: [worker] });
    await queue.start();
    const job = await queue.insert(worker, {});
    const marker = defineWorker({ name: "marker", queue: "mine", perform: () => {} });
    const done = await queue.insert(marker, {});
    await reaches(done.id, "retryable"); // marker is not registered: proves the node fetched its own queue
    expect((await stateOf(job.id)).state).toBe("available");
    expect(ran).toBe(0);
  });

  test("a job inserted into an idle queue starts at once through LISTEN/NOTIFY, not the poll", async () => {
    const worker = defineWorker({ name: "prompt", queue: "q12", perform: () => {} });
    const queue = makeQueue({ queues: { q12: 1 }, workers: [worker], pollInterval: 60 });
    await queue.start();
    // The first poll happens at start; once it is back, only a notification can wake the producer.
    await firstFetchDone(queue, "q12");
    const job = await queue.insert(worker, {});
    await reaches(job.id, "completed");
  });

  test("without notifications, polling still makes progress", async () => {
    const worker = defineWorker({ name: "polled", queue: "q13", perform: () => {} });
    // No LISTEN at all, and the job comes after the start fetch and no completion precedes it:
    // only the poll timer can take it.
    const queue = makeQueue({
      queues: { q13: 1 },
      workers: [worker],
      pollInterval: 0.1,
      listen: false,
    });
    await queue.start();
    await firstFetchDone(queue, "q13");
    const [row] = await db.sql<{ id: string }[]>`
      INSERT INTO docket.jobs (queue, worker) VALUES ('q13', 'polled') RETURNING id::text`;
    await reaches(row?.id as string, "completed");
  });
});
