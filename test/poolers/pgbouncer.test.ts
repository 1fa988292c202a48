// docket behind a real PgBouncer in transaction mode (docs/poolers.md): with
// `connection: { url, prepare: false }` and `listen: directUrl` everything works, and each
// setting left out gives a PoolerError that names it.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { defineWorker, PoolerError, Queue } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { type PgBouncer, pgBouncerAvailable, startPgBouncer } from "../support/pgbouncer.js";
import { nextEvent, waitFor } from "../support/wait.js";

const db = useTestDatabase();

const echo = defineWorker({
  name: "poolers.echo",
  async perform() {},
});

describe.skipIf(!pgBouncerAvailable())("through PgBouncer in transaction mode", () => {
  let bouncer: PgBouncer;
  let pooled: string;
  const queues: Queue[] = [];
  const make = (options: Omit<ConstructorParameters<typeof Queue>[0], "workers">) => {
    const queue = new Queue({ workers: [echo], stageInterval: 0.05, ...options });
    queues.push(queue);
    return queue;
  };

  beforeAll(async () => {
    bouncer = await startPgBouncer(db.url, "transaction");
    pooled = bouncer.via(db.url);
  });
  // Each test's queues stop after it: a queue left running would take the next test's jobs.
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop({ grace: 1 })));
  });
  afterAll(() => bouncer?.stop());

  test("with prepare: false and listen on a direct connection, everything works", async () => {
    const queue = make({
      connection: { url: pooled, prepare: false, max: 4 },
      listen: db.url,
      queues: { default: 2 },
      // Far longer than the test waits: each job below is woken by NOTIFY, never by a poll.
      pollInterval: 60,
    });
    await queue.migrate();
    await queue.start();
    const errors: unknown[] = [];
    queue.on("queue:error", ({ error }) => errors.push(error));
    for (let i = 0; i < 5; i++) {
      const job = await queue.insert(echo, { i });
      const [{ job: done }] = await nextEvent(
        queue,
        "job:complete",
        ({ job: j }) => j.id === job.id,
        10_000,
      );
      expect(done.args).toEqual({ i });
    }
    const many = await queue.insertMany(echo, [{ i: 10 }, { i: 11 }, { i: 12 }]);
    await waitFor(async () => {
      const states = await Promise.all(many.map(async (j) => (await queue.getJob(j.id))?.state));
      return states.every((s) => s === "completed");
    });
    // The acker stored every outcome through the pooler.
    const completed = await db.sql`SELECT id FROM docket.jobs WHERE state = 'completed'`;
    expect(completed).toHaveLength(8);
    // Leadership (a lease row) and a cleanup run (a lease row too) work through the pooler, and
    // a second run of the target finds it free again: nothing is left on a server session.
    await waitFor(() => queue.isLeader, { what: "leadership through the pooler" });
    expect((await queue.runCleanup("Producers")).success).toBe(true);
    expect((await queue.runCleanup("Producers")).success).toBe(true);
    await queue.pauseQueue("default");
    await waitFor(() => queue.checkQueue("default")?.paused === true, { what: "pause" });
    await queue.resumeQueue("default");
    await waitFor(() => queue.checkQueue("default")?.paused === false, { what: "resume" });
    expect(errors).toEqual([]);
  });

  test("a LISTEN through the pooler fails start() with a PoolerError naming listen", async () => {
    const queue = make({
      connection: { url: pooled, prepare: false },
      queues: { default: 1 },
      leadership: false,
    });
    const reported: unknown[] = [];
    queue.on("queue:error", ({ error }) => reported.push(error));
    const error = await queue.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolerError);
    expect((error as PoolerError).option).toBe("listen");
    expect((error as Error).message).toMatch(/set listen to a direct connection URL/);
    expect(reported).toEqual([error]);
  });

  test("listen: false polls through the pooler alone", async () => {
    const queue = make({
      connection: { url: pooled, prepare: false },
      listen: false,
      queues: { default: 1 },
      pollInterval: 0.05,
    });
    await queue.start();
    const job = await queue.insert(echo, { polled: true });
    await nextEvent(queue, "job:complete", ({ job: j }) => j.id === job.id);
  });

  test("prepared statements through the pooler: the insert fails with a PoolerError naming connection.prepare", async () => {
    const queue = make({ connection: { url: pooled, max: 5 }, listen: false });
    // Several at once, as an app's requests do: postgres.js prepares each statement in one
    // transaction and runs it in the next, which the pooler gives another server connection.
    let failure: unknown;
    for (let round = 0; round < 20 && failure === undefined; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, k) => queue.insert(echo, { round, k })),
      );
      failure = results.find((r) => r.status === "rejected")?.reason;
    }
    expect(failure).toBeInstanceOf(PoolerError);
    expect((failure as PoolerError).option).toBe("connection.prepare");
    expect((failure as Error).message).toMatch(
      /SQLSTATE 26000.*set connection: \{ url, prepare: false \}/,
    );
    expect((failure as Error & { cause: { code: string } }).cause.code).toBe("26000");
  });
});
