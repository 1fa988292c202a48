// progress() in perform, against a real PostgreSQL: writes throttled and batched across the jobs
// of a node (counted by a trigger that records every UPDATE of an executing job that leaves it
// executing, which only the progress statement makes), the last value stored with the outcome,
// no write once the attempt is no longer this node's, the event on a Queue that runs no queues,
// and bad values refused.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import {
  defineWorker,
  type JobProgress,
  maxProgressBytes,
  ProgressError,
  type ProgressValue,
} from "../index.js";
import { run } from "../sql/executor.js";
import { storeProgress } from "../sql/progress.js";
import { performJob } from "../testing/index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

beforeAll(async () => {
  await db.sql.unsafe(`
    CREATE TABLE public.progress_writes (job_id bigint, value jsonb, tx bigint);
    CREATE FUNCTION public.count_progress_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('test.fail_progress', true) = 'on' THEN
        RAISE EXCEPTION 'progress writes are failing (test)';
      END IF;
      INSERT INTO public.progress_writes VALUES (NEW.id, NEW.meta -> 'progress', txid_current());
      RETURN NEW;
    END $$;
    CREATE TRIGGER count_progress_write AFTER UPDATE ON docket.jobs FOR EACH ROW
      -- Not the UPDATE of waitForJob that marks the job awaited.
      WHEN (OLD.state = 'executing' AND NEW.state = 'executing'
        AND NOT (NEW.meta ? 'docket:awaited' AND NOT OLD.meta ? 'docket:awaited'))
      EXECUTE FUNCTION public.count_progress_write();`);
});

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, public.progress_writes`;
  await db.sql.unsafe(`ALTER DATABASE ${db.name} RESET test.fail_progress`);
});

async function writes(): Promise<{ job_id: string; value: unknown; tx: string }[]> {
  return db.sql`SELECT job_id::text, value, tx::text FROM public.progress_writes ORDER BY tx`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reports 1…`reports` every `everyMs`, then returns when it has been told to stop (if asked). */
const counter = defineWorker<{ reports: number; everyMs: number; hold?: boolean }>({
  name: "progress.counter",
  queue: "progress",
  async perform(job, { progress }) {
    const started = Date.now();
    for (let i = 1; i <= job.args.reports; i++) {
      progress(i);
      await sleep(job.args.everyMs);
    }
    while (job.args.hold && !released.has(job.id)) {
      progress({ holding: true, at: Date.now() });
      await sleep(job.args.everyMs);
    }
    return { elapsedMs: Date.now() - started };
  },
});
const released = new Set<string>();

describe("progress()", () => {
  test("many reports make few writes, one statement per tick for all the node's jobs", async () => {
    const intervalMs = 100;
    const queue = makeQueue({
      queues: { progress: 3 },
      workers: [counter],
      progressInterval: intervalMs / 1000,
    });
    await queue.start();
    const jobs = await queue.insertMany(
      counter,
      [0, 1, 2].map(() => ({ reports: 40, everyMs: 25 })),
    );
    const done = await Promise.all(
      jobs.map((job) => queue.waitForJob(job.id, { timeout: "20s", pollInterval: "100ms" })),
    );
    const elapsedMs = Math.max(
      ...done.map((j) => (j.meta.result as { elapsedMs: number }).elapsedMs),
    );
    // At most one write per job per interval (one tick may fall at each end).
    const bound = Math.ceil(elapsedMs / intervalMs) + 2;
    const rows = await writes();
    for (const job of jobs) {
      const own = rows.filter((r) => r.job_id === job.id);
      expect(own.length).toBeGreaterThan(0);
      expect(own.length).toBeLessThanOrEqual(bound);
      expect(own.length).toBeLessThan(40);
    }
    // The three jobs ran side by side: their writes share statements.
    expect(new Set(rows.map((r) => r.tx)).size).toBeLessThanOrEqual(bound);
    // The last value of each job, whether a tick or the ack stored it.
    for (const job of done) expect(job.meta.progress).toBe(40);
  });

  test("the last value reported goes with the outcome: readable by getJob after completion", async () => {
    // An interval longer than the test: no tick ever writes, only the ack can.
    const queue = makeQueue({
      queues: { progress: 1 },
      workers: [counter],
      progressInterval: "1h",
    });
    await queue.start();
    const job = await queue.insert(counter, { reports: 5, everyMs: 1 });
    await queue.waitForJob(job.id, { timeout: "20s", pollInterval: "100ms" });
    expect((await queue.getJob(job.id))?.meta.progress).toBe(5);
    expect(await writes()).toHaveLength(0);
  });

  test("nothing is written once the attempt is no longer this node's", async () => {
    const queue = makeQueue({
      queues: { progress: 3 },
      workers: [counter],
      progressInterval: 0.05,
    });
    await queue.start();
    // Three jobs that keep reporting until released: one will be cancelled, one moved to another
    // node; the third shows that ticks go on meanwhile (each tick writes every job reported).
    const [cancelled, moved, witness] = await queue.insertMany(
      counter,
      [0, 1, 2].map(() => ({ reports: 0, everyMs: 10, hold: true })),
    );
    if (!cancelled || !moved || !witness) throw new Error("three jobs expected");
    await waitFor(async () => {
      const ids = new Set((await writes()).map((r) => r.job_id));
      return ids.has(cancelled.id) && ids.has(moved.id) && ids.has(witness.id);
    });
    await queue.cancelJob(cancelled.id);
    await db.sql`UPDATE docket.jobs SET attempted_by = 'another-node' WHERE id = ${moved.id}`;
    const before = await db.sql<{ id: string; meta: Record<string, unknown> }[]>`
      SELECT id::text, meta FROM docket.jobs WHERE id IN (${cancelled.id}, ${moved.id})`;
    const seen = (await writes()).length;
    // Two more ticks for the witness: the others were in them too, refused by the guard.
    await waitFor(async () => {
      const later = (await writes()).slice(seen);
      return later.filter((r) => r.job_id === witness.id).length >= 2;
    });
    const after = await db.sql<{ id: string; meta: Record<string, unknown> }[]>`
      SELECT id::text, meta FROM docket.jobs WHERE id IN (${cancelled.id}, ${moved.id})`;
    expect(after).toEqual(before);
    const late = (await writes()).slice(seen).filter((r) => r.job_id !== witness.id);
    expect(late).toEqual([]);
    for (const job of [cancelled, moved, witness]) released.add(job.id);
  });

  test("the statement writes only executing jobs of this node and attempt", async () => {
    const [row] = await db.sql<{ ids: string[] }[]>`
      WITH i AS (
        INSERT INTO docket.jobs (state, queue, worker, args, attempt, attempted_by, attempted_at, completed_at)
        VALUES ('executing', 'q', 'w', '{}', 1, 'node-a', now(), NULL),
               ('completed', 'q', 'w', '{}', 1, 'node-a', now(), now()),
               ('executing', 'q', 'w', '{}', 1, 'node-b', now(), NULL),
               ('executing', 'q', 'w', '{}', 2, 'node-a', now(), NULL)
        RETURNING id)
      SELECT array_agg(id::text ORDER BY id) AS ids FROM i`;
    const ids = row?.ids ?? [];
    const [result] = await run(
      db.sql,
      storeProgress("docket", "node-a", {
        ids,
        attempts: [1, 1, 1, 1],
        values: ids.map(() => "7"),
        payloads: ids.map((id) => JSON.stringify({ id })),
        notifyOnly: ids.map(() => 0),
      }),
    );
    expect(result).toEqual({ stored: 1, notified: 1 });
    const stored = await db.sql<{ progress: unknown }[]>`
      SELECT meta -> 'progress' AS progress FROM docket.jobs ORDER BY id`;
    expect(stored.map((r) => r.progress)).toEqual([7, null, null, null]);
  });

  test("job:progress reaches a Queue that runs no queues, and the diagnostics channel", async () => {
    const node = makeQueue({ queues: { progress: 1 }, workers: [counter], progressInterval: 0.05 });
    const client = makeQueue({});
    const heard: JobProgress[] = [];
    client.on("job:progress", (event) => heard.push(event));
    const local: JobProgress[] = [];
    node.on("job:progress", (event) => local.push(event));
    const published: unknown[] = [];
    const onMessage = (message: unknown) => published.push(message);
    subscribe("docket:job:progress", onMessage);
    try {
      await node.start();
      const job = await client.insert(counter, { reports: 3, everyMs: 100 });
      await waitFor(() => heard.some((e) => e.id === job.id && e.progress === 3), {
        what: "the client to hear the last report",
      });
      expect(heard.find((e) => e.id === job.id)).toMatchObject({
        queue: "progress",
        worker: "progress.counter",
        attempt: 1,
        node: node.node,
      });
      // Where the job runs: every report, once (its own NOTIFYs are not emitted again).
      await node.stop();
      expect(local.filter((e) => e.id === job.id).map((e) => e.progress)).toEqual([1, 2, 3]);
      expect(published).toContainEqual(expect.objectContaining({ id: job.id, progress: 2 }));
    } finally {
      unsubscribe("docket:job:progress", onMessage);
    }
  });

  test("a database error never reaches perform: reported, and the outcome still stores the value", async () => {
    await db.sql.unsafe(`ALTER DATABASE ${db.name} SET test.fail_progress = 'on'`);
    const queue = makeQueue({
      queues: { progress: 1 },
      workers: [counter],
      progressInterval: 0.02,
    });
    const errors: string[] = [];
    queue.on("queue:error", ({ source }) => errors.push(source));
    await queue.start();
    const job = await queue.insert(counter, { reports: 10, everyMs: 20 });
    const done = await queue.waitForJob(job.id, { timeout: "20s", pollInterval: "100ms" });
    expect(done.state).toBe("completed");
    expect(done.meta.progress).toBe(10);
    expect(errors).toContain("progress");
  });
});

describe("values progress() refuses", () => {
  // Args cannot hold most of these values: the worker reads its case by index.
  const reporter = defineWorker<{ i: number }>({
    name: "progress.reporter",
    perform(job, { progress }) {
      progress(cases[job.args.i]?.[1] as ProgressValue);
      return "reported";
    },
  });
  const cases: [string, unknown, RegExp][] = [
    ["a number above 100", 101, /percentage from 0 to 100, got 101/],
    ["a negative number", -1, /percentage from 0 to 100, got -1/],
    ["NaN", Number.NaN, /percentage from 0 to 100, got NaN/],
    ["undefined", undefined, /got undefined/],
    ["a NUL in a text", { stage: "a\u0000b" }, /progress\.stage holds a NUL/],
    ["a lone surrogate", "\ud800", /lone UTF-16 surrogate/],
    ["a BigInt", { n: 1n }, /progress\.n is a BigInt/],
    ["more than 4 KiB", { log: "x".repeat(maxProgressBytes) }, /more than the 4096 allowed/],
  ];
  test.each(cases.map((c, i) => [c[0], i, c[2]] as const))(
    "%s is refused with a ProgressError thrown into perform",
    async (_, i, message) => {
      const result = await performJob(reporter, { i });
      expect(result.outcome).toBe("retryable");
      if (result.outcome !== "retryable") return;
      expect(result.error).toBeInstanceOf(ProgressError);
      expect((result.error as ProgressError).code).toBe("PROGRESS_INVALID");
      expect(String((result.error as Error).message)).toMatch(message);
      expect(result.job.meta.progress).toBeUndefined();
    },
  );

  test("a percentage or a small JSON value is kept, the last one in meta.progress", async () => {
    const steps = defineWorker({
      name: "progress.steps",
      perform(_job, { progress }) {
        progress(0);
        progress(12.5);
        progress({ done: 3, total: 10, stage: "rows" });
      },
    });
    const result = await performJob(steps, {});
    expect(result.job.meta.progress).toEqual({ done: 3, total: 10, stage: "rows" });
  });
});
