import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError, defineWorker, InsertError, type Job } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const digest = defineWorker({
  name: "digest.send",
  queue: "mailers",
  unique: { keys: ["userId"] },
  perform: () => {},
});

async function rows(worker: string): Promise<{ id: string; state: string; args: unknown }[]> {
  return db.sql`SELECT id::text, state, args FROM docket.jobs WHERE worker = ${worker} ORDER BY id`;
}

describe("unique jobs", () => {
  test("20 concurrent inserts of one unique job leave exactly one row", async () => {
    const worker = defineWorker({ name: "race.one", unique: {}, perform: () => {} });
    // Two nodes with several connections each, so the inserts really run at once.
    const nodes = [makeQueue({ poolSize: 10 }), makeQueue({ poolSize: 10 })];
    const jobs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (nodes[i % 2] as (typeof nodes)[0]).insert(worker, { order: 42 }),
      ),
    );
    expect(await rows("race.one")).toHaveLength(1);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(1);
    expect(jobs.filter((j) => j.conflict === false)).toHaveLength(1);
    expect(jobs.filter((j) => j.conflict === true)).toHaveLength(19);
  });

  test("20 concurrent insertMany batches, with duplicates inside each, leave one row per key", async () => {
    const worker = defineWorker({ name: "race.many", unique: { keys: ["k"] }, perform: () => {} });
    const nodes = [makeQueue({ poolSize: 10 }), makeQueue({ poolSize: 10 })];
    const batch = (i: number) => [
      { k: 1, i },
      { k: 2, i },
      { k: 1, i: -i },
      { k: 3, i },
    ];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (nodes[i % 2] as (typeof nodes)[0]).insertMany(worker, batch(i)),
      ),
    );
    const stored = await rows("race.many");
    expect(stored.map((r) => (r.args as { k: number }).k).sort()).toEqual([1, 2, 3]);
    const idOf = new Map(stored.map((r) => [(r.args as { k: number }).k, r.id]));
    for (const jobs of results) {
      expect(jobs).toHaveLength(4);
      expect(jobs.map((j) => j.id)).toEqual([idOf.get(1), idOf.get(2), idOf.get(1), idOf.get(3)]);
      expect(jobs[2]?.conflict).toBe(true); // the in-batch duplicate
    }
    const fresh = results.flat().filter((j) => j.conflict === false);
    expect(fresh).toHaveLength(3);
  });

  test("a conflicting insert returns the existing job with conflict: true and adds no row", async () => {
    const queue = makeQueue();
    const first = await queue.insert(digest, { userId: 7, note: "a" });
    expect(first.conflict).toBe(false);
    const second = await queue.insert(digest, { userId: 7, note: "b" });
    expect(second).toMatchObject({ id: first.id, conflict: true, args: { userId: 7, note: "a" } });
    const other = await queue.insert(digest, { userId: 8 });
    expect(other.conflict).toBe(false);
    expect(await rows("digest.send")).toHaveLength(2);
  });

  test("by default fields are worker, queue and args; a job of another queue is distinct", async () => {
    const worker = defineWorker({ name: "fields.default", unique: {}, perform: () => {} });
    const queue = makeQueue();
    const a = await queue.insert(worker, { x: 1 });
    const b = await queue.insert(worker, { x: 1 }, { queue: "other" });
    const c = await queue.insert(worker, { x: 1 }, { meta: { differs: true } });
    expect(b.conflict).toBe(false);
    expect(c).toMatchObject({ id: a.id, conflict: true });
    const byArgs = defineWorker({
      name: "fields.args",
      unique: { fields: ["args"] },
      perform: () => {},
    });
    const d = await queue.insert(byArgs, { y: 1 });
    const e = await queue.insert(byArgs, { y: 1 }, { queue: "elsewhere" });
    expect(e).toMatchObject({ id: d.id, conflict: true, queue: "default" });
  });

  test("meta as a field, with keys picking from it", async () => {
    const worker = defineWorker({
      name: "fields.meta",
      unique: { fields: ["worker", "meta"], keys: ["tenant"] },
      perform: () => {},
    });
    const queue = makeQueue();
    const a = await queue.insert(worker, { any: 1 }, { meta: { tenant: "t1", trace: "x" } });
    const b = await queue.insert(worker, { any: 2 }, { meta: { tenant: "t1", trace: "y" } });
    const c = await queue.insert(worker, { any: 1 }, { meta: { tenant: "t2" } });
    expect(b).toMatchObject({ id: a.id, conflict: true });
    expect(c.conflict).toBe(false);
  });

  test("default states: a completed job blocks, a cancelled or discarded one does not", async () => {
    const queue = makeQueue();
    const job = await queue.insert(digest, { userId: 100 });
    await db.sql`UPDATE docket.jobs SET state = 'completed', completed_at = now() WHERE id = ${job.id}`;
    expect(await queue.insert(digest, { userId: 100 })).toMatchObject({
      id: job.id,
      conflict: true,
    });
    await db.sql`UPDATE docket.jobs SET state = 'cancelled', cancelled_at = now() WHERE id = ${job.id}`;
    const again = await queue.insert(digest, { userId: 100 });
    expect(again.conflict).toBe(false);
    expect(again.id).not.toBe(job.id);
    await db.sql`UPDATE docket.jobs SET state = 'discarded', discarded_at = now() WHERE id = ${again.id}`;
    expect((await queue.insert(digest, { userId: 100 })).conflict).toBe(false);
  });

  test("states without completed: a job that ran lets the next one in", async () => {
    const worker = defineWorker({
      name: "states.pending",
      unique: { states: ["available", "scheduled", "executing", "retryable"] },
      perform: () => "done",
    });
    const queue = makeQueue({ queues: { default: 1 }, workers: [worker] });
    const job = await queue.insert(worker, {});
    expect((await queue.insert(worker, {})).conflict).toBe(true);
    await queue.start();
    await waitFor(async () => (await queue.getJob(job.id))?.state === "completed");
    expect((await queue.insert(worker, {})).conflict).toBe(false);
  });

  test("a period lets one job in per time bucket; no period blocks for good", async () => {
    const worker = defineWorker({ name: "period.1s", unique: { period: "1s" }, perform: () => {} });
    const queue = makeQueue();
    // Early in a one-second bucket, so that an immediate duplicate falls in the same one.
    await waitFor(() => Date.now() % 1000 < 300, { intervalMs: 5 });
    const first = await queue.insert(worker, { a: 1 });
    expect(first.conflict).toBe(false);
    const duplicate = await queue.insert(worker, { a: 1 });
    expect(duplicate.conflict).toBe(true);
    expect(duplicate.id).toBe(first.id);
    // The next bucket starts within a second; until then inserts conflict.
    const next = await waitFor(
      async () => {
        const job = await queue.insert(worker, { a: 1 });
        return job.conflict === false && job;
      },
      { timeoutMs: 10_000 },
    );
    expect(next.id).not.toBe(first.id);
    // Another period is another key, even in the same bucket.
    const forever = await queue.insert(worker, { a: 1 }, { unique: { period: null } });
    expect(forever.conflict).toBe(false);
    expect((await queue.insert(worker, { a: 1 }, { unique: { period: null } })).conflict).toBe(
      true,
    );
  });

  test("replace overwrites chosen fields of the waiting job, not of one that has started", async () => {
    const queue = makeQueue();
    const first = await queue.insert(
      digest,
      { userId: 1, v: 1 },
      { scheduleIn: "1h", priority: 5 },
    );
    expect(first.state).toBe("scheduled");
    const replaced = await queue.insert(
      digest,
      { userId: 1, v: 2 },
      { scheduleIn: "10m", priority: 1, unique: { replace: ["scheduledAt", "priority"] } },
    );
    expect(replaced).toMatchObject({
      id: first.id,
      conflict: true,
      priority: 1,
      state: "scheduled",
    });
    expect(replaced.args).toEqual({ userId: 1, v: 1 });
    expect(+replaced.scheduledAt).toBeLessThan(+first.scheduledAt - 40 * 60_000);
    const now = await queue.insert(
      digest,
      { userId: 1, v: 3 },
      { unique: { replace: ["scheduledAt", "args"] } },
    );
    expect(now).toMatchObject({ id: first.id, state: "available", args: { userId: 1, v: 3 } });
    await db.sql`UPDATE docket.jobs SET state = 'executing', attempt = 1 WHERE id = ${first.id}`;
    const running = await queue.insert(
      digest,
      { userId: 1, v: 4 },
      { priority: 9, unique: { replace: ["priority"] } },
    );
    expect(running).toMatchObject({
      id: first.id,
      conflict: true,
      state: "executing",
      priority: 1,
    });
  });

  test("unique: false inserts a duplicate; a worker without unique options can be unique per insert", async () => {
    const plain = defineWorker({ name: "plain", perform: () => {} });
    const queue = makeQueue();
    const a = await queue.insert(digest, { userId: 5 });
    const b = await queue.insert(digest, { userId: 5 }, { unique: false });
    expect(b.id).not.toBe(a.id);
    expect(b.conflict).toBeUndefined();
    const c = await queue.insert(plain, { p: 1 }, { unique: {} });
    const d = await queue.insert(plain, { p: 1 }, { unique: {} });
    expect(d).toMatchObject({ id: c.id, conflict: true });
  });

  test("a unique insert in a transaction that rolls back leaves nothing behind", async () => {
    const queue = makeQueue();
    let inside: Job | undefined;
    let again: Job | undefined;
    const rollback = new Error("roll back");
    // Only the intended rollback is caught: a failed insert or assertion inside would reject
    // with its own error and fail here.
    await expect(
      db.sql.begin(async (tx) => {
        inside = await queue.insert(digest, { userId: 77 }, { tx });
        again = await queue.insert(digest, { userId: 77 }, { tx });
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    // Inside the transaction, the second insert saw the first.
    expect(again).toMatchObject({ id: inside?.id, conflict: true });
    expect(inside?.conflict).toBe(false);
    const after = await queue.insert(digest, { userId: 77 });
    expect(after.conflict).toBe(false);
    expect(after.id).not.toBe(inside?.id);
  });

  test("bad unique options fail at defineWorker and at insert", () => {
    expect(() =>
      defineWorker({
        name: "bad.states",
        unique: { states: ["available", "completed"] },
        perform: () => {},
      }),
    ).toThrow(/unique\.states: must include available, scheduled, executing, retryable/);
    expect(() =>
      defineWorker({
        name: "bad.key",
        unique: { period: "1h", key: ["x"] } as never,
        perform: () => {},
      }),
    ).toThrow(ConfigError);
    expect(() =>
      defineWorker({ name: "bad.period", unique: { period: "soon" }, perform: () => {} }),
    ).toThrow(/unique\.period/);
    expect(() =>
      defineWorker({
        name: "bad.fields",
        unique: { fields: ["worker"], keys: ["x"] },
        perform: () => {},
      }),
    ).toThrow(/fields must include args or meta/);
    const queue = makeQueue();
    return expect(
      queue.insert(digest, { userId: 1 }, { unique: { replace: ["state" as never] } }),
    ).rejects.toThrow(InsertError);
  });
});
