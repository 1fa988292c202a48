// Fault suite: the application holds locks docket needs. A `LOCK TABLE docket.jobs` held for a
// while, and a transaction holding row locks on executing jobs. docket's statements carry
// `lock_timeout` (lockTimeout): they give up with SQLSTATE 55P03, report it as a `queue:error`
// and try again, so fetch, ack, stager, pruner and lifeline all notice within lockTimeout and
// nothing waits for the lock; once it goes, every job completes.
//
// FAULT_LOCK_SECONDS sets how long the table lock is held (default 4; docs/reliability.md has a
// run with 30).
import type { ReservedSql } from "postgres";
import { expect, test } from "vitest";
import { defineWorker, type Queue } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { queueFactory } from "../support/queues.js";
import { waitFor } from "../support/wait.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const lockMs = Number(process.env.FAULT_LOCK_SECONDS ?? 4) * 1000;
const lockTimeout = 0.5;

function setup(lockTimeoutOption: number | false = lockTimeout) {
  const runs = new Map<string, number>();
  const work = defineWorker({
    name: "locks.work",
    queue: "locks",
    async perform(job) {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
  });
  const queue: Queue = makeQueue({
    node: "locks-node",
    queues: { locks: 5 },
    workers: [work],
    // The default pool: with the tests' 3 connections, the loops' statements that wait out
    // lockTimeout hold them all, and the pruner's wait for a connection (0.5 s a statement,
    // three statements a run) before its own: it then noticed after up to 3.5 s, past CI's 4 s.
    poolSize: 10,
    lockTimeout: lockTimeoutOption,
    heartbeat: { interval: 0.2, timeout: 5 },
    lifeline: { interval: 0.2, heartbeatCheckInterval: 0.2 },
    pruner: { interval: 0.2, maxAge: 0 },
    leadership: { ttl: 2 },
  });
  const lockErrors: { source: string; at: number }[] = [];
  queue.on("queue:error", ({ error, source }) => {
    if ((error as { code?: string }).code === "55P03") lockErrors.push({ source, at: Date.now() });
  });
  return { queue, work, runs, lockErrors };
}

test(`LOCK TABLE docket.jobs for ${lockMs / 1000} s: every loop gives up within lockTimeout, reports 55P03, and carries on`, {
  timeout: 60_000 + lockMs * 2,
}, async () => {
  await db.sql`TRUNCATE docket.jobs, docket.producers, docket.leaders`;
  const { queue, work, runs, lockErrors } = setup();
  await queue.start();
  await queue.insertMany(
    work,
    Array.from({ length: 300 }, (_, n) => ({ n })),
  );
  await waitFor(() => runs.size >= 20, { what: "some jobs to run" });

  const holder = await db.sql.reserve();
  await holder`BEGIN`;
  await holder`LOCK TABLE docket.jobs IN ACCESS EXCLUSIVE MODE`;
  const lockedAt = Date.now();
  // A failed assertion lets go of the lock too (finally), or the queue's stop would wait on it.
  let lockErrorsWhileLocked = 0;
  let firstMs = 0;
  let allMs = 0;
  // Wait for the lock errors of the node's loops: each must give up while the lock is held.
  const sources = ["producer:locks", "acker", "stager", "lifeline", "pruner"];
  try {
    const seen = await waitFor(
      () => {
        const got = new Set(lockErrors.map((e) => e.source));
        return sources.every((s) => got.has(s)) && got;
      },
      { timeoutMs: lockMs + 10_000, what: `lock timeouts from ${sources.join(", ")}` },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; seen: ${JSON.stringify(lockErrors)}`);
    });
    firstMs = Math.min(...lockErrors.map((e) => e.at)) - lockedAt;
    allMs = Date.now() - lockedAt;
    // Every one of them noticed while the lock was still held: each gives up after lockTimeout
    // (0.5 s) and the lock is held 8 times as long.
    expect(allMs).toBeLessThan(lockMs);
    expect([...seen].sort()).toEqual(expect.arrayContaining(sources));
    // Hold the lock to the end, then let go.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, lockMs - (Date.now() - lockedAt))),
    );
    lockErrorsWhileLocked = lockErrors.length;
  } finally {
    await holder`COMMIT`;
    holder.release();
  }
  const releasedAt = Date.now();

  // The pruner deletes completed jobs as it goes, so the runs tell what ran.
  await waitFor(
    async () =>
      runs.size === 300 &&
      (await db.sql`SELECT 1 FROM docket.jobs WHERE state <> 'completed' LIMIT 1`).length === 0,
    { timeoutMs: 30_000, what: "every job to run and complete after the lock" },
  );
  const recoveredMs = Date.now() - releasedAt;
  expect([...runs.values()].every((n) => n === 1)).toBe(true);
  console.log(
    `[faults] LOCK TABLE ${lockMs} ms: first lock timeout after ${firstMs} ms, all of ${sources.join("/")} within ${allMs} ms, ` +
      `${lockErrorsWhileLocked} lock-timeout events while locked, all 300 jobs run once, done ${recoveredMs} ms after release`,
  );
});

test("a transaction holding row locks on executing jobs: their acks give up within lockTimeout and are stored once it ends", {
  timeout: 60_000 + lockMs * 2,
}, async () => {
  await db.sql`TRUNCATE docket.jobs, docket.producers, docket.leaders`;
  const { queue, work, runs, lockErrors } = setup();
  await queue.start();
  await queue.insertMany(
    work,
    Array.from({ length: 100 }, (_, n) => ({ n })),
  );
  await waitFor(() => runs.size >= 10, { what: "some jobs to run" });
  // The application locks every job of the queue that is not finished: the running ones among them.
  const holder = await db.sql.reserve();
  const locked = await lockUnfinished(holder);
  const lockedAt = Date.now();
  let noticedMs = 0;
  try {
    expect(locked.length).toBeGreaterThan(0);
    await waitFor(() => lockErrors.some((e) => e.source === "acker"), {
      timeoutMs: lockMs + 10_000,
      what: "the acker to give up on a locked row",
    });
    noticedMs = Date.now() - lockedAt;
    // An ack gives up after lockTimeout (0.5 s); the lock is held 8 times as long.
    expect(noticedMs).toBeLessThan(lockMs);
    // Fetch skips locked rows (SKIP LOCKED) and the lifeline too: neither waits nor fails.
    expect(lockErrors.filter((e) => e.source !== "acker" && e.source !== "pruner")).toEqual([]);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, lockMs - (Date.now() - lockedAt))),
    );
  } finally {
    await holder`COMMIT`;
    holder.release();
  }
  const releasedAt = Date.now();
  await waitFor(
    async () =>
      runs.size === 100 &&
      (await db.sql`SELECT 1 FROM docket.jobs WHERE state <> 'completed' LIMIT 1`).length === 0,
    { timeoutMs: 30_000, what: "every job to run and complete after the row locks" },
  );
  expect([...runs.values()].every((n) => n === 1)).toBe(true);
  console.log(
    `[faults] row locks on ${locked.length} jobs for ${lockMs} ms: the acker noticed after ${noticedMs} ms ` +
      `(${lockErrors.length} lock-timeout events), all 100 jobs run once, done ${Date.now() - releasedAt} ms after release`,
  );
});

/**
 * BEGIN, then locks the queue's unfinished jobs, as an application would. On the partitioned
 * layout a job moved to a finished partition meanwhile fails the statement with 40001 (docs/
 * scaling.md): like any application, the test then rolls back and tries again.
 */
async function lockUnfinished(holder: ReservedSql): Promise<{ id: string }[]> {
  for (let attempt = 1; ; attempt++) {
    await holder`BEGIN`;
    try {
      return await holder<{ id: string }[]>`
        SELECT id::text FROM docket.jobs WHERE state IN ('executing', 'available') FOR UPDATE`;
    } catch (error) {
      await holder`ROLLBACK`;
      if ((error as { code?: string }).code !== "40001" || attempt >= 10) throw error;
    }
  }
}
