// A job that runs longer than rescueAfter on a node that is alive and heartbeating is not rescued:
// it runs once. Oban's time-only lifeline (trustHeartbeats: false) would run it again, which the
// second test shows, so the first one means something.
import { expect, test } from "vitest";
import { defineWorker, type Queue } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { queueFactory } from "../support/queues.js";
import { waitFor } from "../support/wait.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const heartbeat = { interval: 0.2, timeout: 1 };
const jobMs = 3_000;

/** A runner node (not leader) with one slow worker, and a leader whose lifeline runs often. */
async function cluster(trustHeartbeats: boolean) {
  const runs: { id: string; attempt: number }[] = [];
  const slow = defineWorker({
    name: "slow.report",
    queue: "slow",
    async perform(job) {
      runs.push({ id: job.id, attempt: job.attempt });
      // Slow the first time only, so that a rescued run (attempt 2) is not rescued in turn.
      if (job.attempt === 1) await new Promise((resolve) => setTimeout(resolve, jobMs));
    },
  });
  const keeper: Queue = makeQueue({
    node: `keeper-${trustHeartbeats}`,
    heartbeat,
    lifeline: { interval: 0.2, rescueAfter: 1, trustHeartbeats },
  });
  await keeper.start();
  expect(keeper.isLeader).toBe(true);
  const runner = makeQueue({
    node: `runner-${trustHeartbeats}`,
    leadership: false,
    heartbeat,
    queues: { slow: 1 },
    workers: [slow],
  });
  await runner.start();
  const rescued: string[] = [];
  let lifelineRuns = 0;
  keeper.on("maintenance:rescue", ({ jobs }) => {
    lifelineRuns++;
    rescued.push(...jobs.map((j) => j.id));
  });
  return { keeper, runner, slow, runs, rescued, lifelineRuns: () => lifelineRuns };
}

test("a job running past rescueAfter on a live node runs once", { timeout: 30_000 }, async () => {
  await db.sql`TRUNCATE docket.jobs, docket.producers, docket.leaders`;
  const { runner, slow, runs, rescued, lifelineRuns } = await cluster(true);
  const job = await runner.insert(slow, {});
  const done = await waitFor(async () => {
    const j = await runner.getJob(job.id);
    return j?.state === "completed" && j;
  });
  expect(runs).toEqual([{ id: job.id, attempt: 1 }]);
  expect(done.attempt).toBe(1);
  expect(done.meta.rescued).toBeUndefined();
  expect(rescued).toEqual([]);
  // The lifeline did look, many times, while the job ran past rescueAfter.
  expect(lifelineRuns()).toBeGreaterThan(5);
});

test("with trustHeartbeats: false the same job is rescued and runs again", {
  timeout: 30_000,
}, async () => {
  await db.sql`TRUNCATE docket.jobs, docket.producers, docket.leaders`;
  const { runner, slow, runs, rescued } = await cluster(false);
  const job = await runner.insert(slow, {});
  await waitFor(async () => rescued.includes(job.id));
  await waitFor(async () => (await runner.getJob(job.id))?.state === "completed", {
    timeoutMs: 20_000,
  });
  expect(runs).toEqual([
    { id: job.id, attempt: 1 },
    { id: job.id, attempt: 2 },
  ]);
});
