import { expect, test } from "vitest";
import { lockWaiters, useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { cancelJob } from "../admin/admin.js";
import { defineWorker } from "../index.js";
import { Pruner } from "../maintenance/pruner.js";
import { ackJobs } from "../sql/ack.js";
import { run } from "../sql/executor.js";
import { fetchJobs } from "../sql/jobs.js";
import {
  createDayPartition,
  detachDayPartitions,
  dropDetachedPartitions,
  missingDayPartitions,
} from "../sql/maintenance/partitions.js";
import { Migrator } from "./migrator.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const day = 86_400_000;
const utcDay = (offsetDays: number) =>
  new Date(Date.now() + offsetDays * day).toISOString().slice(0, 10);

/** A schema of its own, migrated (plain), and its migrator. */
async function plainSchema(schema: string): Promise<Migrator> {
  const migrator = new Migrator(db.sql, schema);
  await migrator.up();
  return migrator;
}

/** The leaf table that holds a job now. */
async function leafOf(schema: string, id: string): Promise<string | undefined> {
  const [row] = await db.sql<{ leaf: string }[]>`
    SELECT tableoid::regclass::text AS leaf FROM ${db.sql(schema)}.jobs WHERE id = ${id}`;
  return row?.leaf;
}

test("partition() swaps an empty table once; claims, acks and pruning by dropping days work", async () => {
  const migrator = await plainSchema("p_empty");
  expect(await migrator.partition()).toEqual({ swapped: true, liveMoved: 0, finishedMoved: 0 });
  expect(await migrator.layout()).toBe("partitioned");
  expect(await migrator.partition()).toEqual({ swapped: false, liveMoved: 0, finishedMoved: 0 });
  await expect(migrator.down()).rejects.toThrow(/partitioned jobs table/);

  const past = utcDay(-3);
  for (const { state, day: d } of await run(db.sql, missingDayPartitions("p_empty", past, 5))) {
    expect((await run(db.sql, createDayPartition("p_empty", state, d)))[0]?.created).toBe(true);
  }
  expect(await run(db.sql, missingDayPartitions("p_empty", past, 5))).toEqual([]);
  const inserted = await db.sql<{ id: string }[]>`
    INSERT INTO p_empty.jobs (queue, worker) SELECT 'part', 'w' FROM generate_series(1, 2)
    RETURNING id`;
  const ids = inserted.map((r) => r.id).sort();
  expect(await leafOf("p_empty", ids[0] as string)).toBe("p_empty.jobs_live");

  const claimed = await run(db.sql, fetchJobs("p_empty", "part", 10, "node-a"));
  expect(claimed.map((j) => j.id).sort()).toEqual(ids);
  const [acked] = await run(
    db.sql,
    ackJobs("p_empty", "node-a", { ids, attempts: claimed.map(() => 1) }, []),
  );
  expect(acked?.ids?.split(",").sort()).toEqual(ids);
  const stamp = utcDay(0).replaceAll("-", "");
  expect(await leafOf("p_empty", ids[0] as string)).toBe(`p_empty.jobs_completed_${stamp}`);

  // A job finished three days ago sits in that day's partition.
  const [old, fresh] = ids as [string, string];
  await db.sql`
    UPDATE p_empty.jobs SET completed_at = completed_at - interval '3 days' WHERE id = ${old}`;
  const oldDay = `jobs_completed_${past.replaceAll("-", "")}`;
  expect(await leafOf("p_empty", old)).toBe(`p_empty.${oldDay}`);

  // Retention of one day: the day of three days ago goes, today's stays.
  const detached = await run(db.sql, detachDayPartitions("p_empty", { completed: day }));
  expect(detached.map((d) => d.name)).toContain(oldDay);
  expect(detached.map((d) => d.name)).not.toContain(`jobs_completed_${stamp}`);
  const dropped = await run(db.sql, dropDetachedPartitions("p_empty", 16));
  expect(dropped.map((d) => d.name).sort()).toEqual(detached.map((d) => d.name).sort());
  expect(await leafOf("p_empty", old)).toBeUndefined();
  expect(await leafOf("p_empty", fresh)).toBe(`p_empty.jobs_completed_${stamp}`);
  const [left] = await db.sql<{ n: number }[]>`
    SELECT count(*)::integer AS n FROM pg_class WHERE relname = ${oldDay}
      AND relnamespace = 'p_empty'::regnamespace`;
  expect(left?.n).toBe(0);
});

test("moves between partitions settle dependents and count batch outcomes; deletes count too", async () => {
  await (await plainSchema("p_trig")).partition();
  const [batch] = await db.sql<{ id: string }[]>`
    INSERT INTO p_trig.batches (total, remaining, callback_on, callback)
    VALUES (3, 3, 'finished', '{"queue": "cb", "worker": "cbw", "priority": 0, "max_attempts": 3}')
    RETURNING id`;
  const batchId = batch?.id as string;
  const members = await db.sql<{ id: string }[]>`
    INSERT INTO p_trig.jobs (state, queue, worker, batch_id, attempt, attempted_at, attempted_by)
    SELECT 'executing', 'tq', 'w', ${batchId}, 1, now(), 'n' FROM generate_series(1, 3)
    RETURNING id`;
  const [first, second, third] = members.map((m) => m.id) as [string, string, string];
  const counts = async () =>
    (
      await db.sql<{ remaining: number; discarded: number; cancelled: number }[]>`
        SELECT remaining, discarded, cancelled FROM p_trig.batches WHERE id = ${batchId}`
    )[0];
  // A move to the discarded partition: a DELETE and an INSERT underneath, counted once.
  await db.sql`UPDATE p_trig.jobs SET state = 'discarded', discarded_at = now() WHERE id = ${first}`;
  expect(await counts()).toEqual({ remaining: 2, discarded: 1, cancelled: 0 });
  // A move to completed is counted by the ack statement, not as a deleted job.
  await db.sql`UPDATE p_trig.jobs SET state = 'completed', completed_at = now() WHERE id = ${second}`;
  expect(await counts()).toEqual({ remaining: 2, discarded: 1, cancelled: 0 });
  // A job deleted unfinished counts as cancelled.
  await db.sql`DELETE FROM p_trig.jobs WHERE id = ${third}`;
  expect(await counts()).toEqual({ remaining: 1, discarded: 1, cancelled: 1 });

  // A cancelled dependency cancels its dependent; a deleted one too; a completed one does not.
  const dependents = await db.sql<{ id: string }[]>`
    INSERT INTO p_trig.jobs (state, queue, worker, scheduled_at, waiting_on, dependency_policy)
    SELECT 'scheduled', 'dq', 'w', 'infinity', 1, 'cancel' FROM generate_series(1, 3) RETURNING id`;
  const [d1, d2, d3] = dependents.map((d) => d.id) as [string, string, string];
  const deps = await db.sql<{ id: string }[]>`
    INSERT INTO p_trig.jobs (queue, worker, dependents)
    VALUES ('deps', 'w', ARRAY[${d1}]::bigint[]), ('deps', 'w', ARRAY[${d2}]::bigint[]),
      ('deps', 'w', ARRAY[${d3}]::bigint[])
    RETURNING id`;
  const [c1, c2, c3] = deps.map((d) => d.id) as [string, string, string];
  await db.sql`UPDATE p_trig.jobs SET state = 'cancelled', cancelled_at = now() WHERE id = ${c1}`;
  await db.sql`DELETE FROM p_trig.jobs WHERE id = ${c2}`;
  await db.sql`UPDATE p_trig.jobs SET state = 'completed', completed_at = now() WHERE id = ${c3}`;
  const rows = await db.sql<{ state: string }[]>`
    SELECT state FROM p_trig.jobs WHERE queue = 'dq' ORDER BY id`;
  expect(rows.map((r) => r.state)).toEqual(["cancelled", "cancelled", "scheduled"]);
});

test("unique keys live in job_unique_keys and follow the job through its states", async () => {
  await (await plainSchema("p_unique")).partition();
  const worker = defineWorker({
    name: "p.unique",
    unique: { keys: ["k"], states: ["available", "scheduled", "executing", "retryable"] },
    perform: () => {},
  });
  const queue = makeQueue({ schema: "p_unique", workers: [worker], partitioned: true });
  const a = await queue.insert(worker, { k: 1 });
  const again = await queue.insert(worker, { k: 1 });
  expect(again.conflict).toBe(true);
  expect(again.id).toBe(a.id);
  const keys = () => db.sql<{ job_id: string }[]>`SELECT job_id FROM p_unique.job_unique_keys`;
  expect((await keys()).map((k) => k.job_id)).toEqual([a.id]);

  // Completed is not a blocking state here: the key goes with the move, and a new job takes it.
  await db.sql`UPDATE p_unique.jobs SET state = 'completed', completed_at = now() WHERE id = ${a.id}`;
  expect(await keys()).toEqual([]);
  const b = await queue.insert(worker, { k: 1 });
  expect(b.conflict).toBe(false);
  // A retry of the first job back into a blocking state meets the key held by the second.
  await expect(
    db.sql`UPDATE p_unique.jobs SET state = 'available' WHERE id = ${a.id}`,
  ).rejects.toThrow(/jobs_unique_key_idx/);

  // TRUNCATE empties the side table with the jobs; a stale key (trigger bypassed) is taken over.
  await db.sql`TRUNCATE p_unique.jobs`;
  expect(await keys()).toEqual([]);
  const c = await queue.insert(worker, { k: 2 });
  await db.sql`ALTER TABLE p_unique.jobs DISABLE TRIGGER jobs_unique_key_removed`;
  await db.sql`DELETE FROM p_unique.jobs WHERE id = ${c.id}`;
  await db.sql`ALTER TABLE p_unique.jobs ENABLE TRIGGER jobs_unique_key_removed`;
  const d = await queue.insert(worker, { k: 2 });
  expect(d.conflict).toBe(false);
  expect((await keys()).map((k) => k.job_id)).toEqual([d.id]);
});

test("a table with jobs moves online: live jobs at the swap, finished ones in batches", async () => {
  const migrator = await plainSchema("p_online");
  const worker = defineWorker({
    name: "p.online",
    unique: {
      keys: ["k"],
      states: ["available", "scheduled", "executing", "retryable", "completed"],
    },
    perform: () => {},
  });
  const plain = makeQueue({ schema: "p_online", workers: [worker], partitioned: false });
  const held = await plain.insert(worker, { k: "held" });
  await db.sql`
    UPDATE p_online.jobs SET state = 'completed', completed_at = now() - interval '2 days'
    WHERE id = ${held.id}`;
  await db.sql`
    INSERT INTO p_online.jobs (state, queue, worker, completed_at, attempt)
    SELECT 'completed', 'old', 'w', now() - (g % 3) * interval '1 day', 1
    FROM generate_series(1, 2500) g`;
  const live = await db.sql<{ id: string }[]>`
    INSERT INTO p_online.jobs (queue, worker) SELECT 'live', 'w' FROM generate_series(1, 30)
    RETURNING id`;
  const before = await db.sql<{ id: string; state: string }[]>`
    SELECT id, state FROM p_online.jobs ORDER BY id`;

  const report = await migrator.partition({ batchSize: 1000 });
  expect(report).toEqual({ swapped: true, liveMoved: 30, finishedMoved: 2501 });
  expect(await migrator.layout()).toBe("partitioned");
  const after = await db.sql<{ id: string; state: string }[]>`
    SELECT id, state FROM p_online.jobs ORDER BY id`;
  expect(after).toEqual(before);
  const [legacy] = await db.sql<{ name: string | null }[]>`
    SELECT to_regclass('p_online.jobs_legacy')::text AS name`;
  expect(legacy?.name).toBeNull();
  // Finished jobs went to their days' partitions, not the default.
  const [inDefault] = await db.sql<{ n: number }[]>`
    SELECT count(*)::integer AS n FROM p_online.jobs_completed_default`;
  expect(inDefault?.n).toBe(0);
  expect(await leafOf("p_online", live[0]?.id as string)).toBe("p_online.jobs_live");

  // New ids go on past the old ones, and the finished job still holds its unique key.
  const queue = makeQueue({ schema: "p_online", workers: [worker], partitioned: true });
  const dup = await queue.insert(worker, { k: "held" });
  expect(dup).toMatchObject({ conflict: true, id: held.id });
  const next = await queue.insert(worker, { k: "new" });
  expect(BigInt(next.id)).toBeGreaterThan(BigInt(before.at(-1)?.id as string));
});

test("start() refuses a plain table when partitioned is true", async () => {
  await plainSchema("p_refuse");
  const queue = makeQueue({ schema: "p_refuse", partitioned: true });
  await expect(queue.start()).rejects.toThrow(/not partitioned while partitioned is true/);
});

test("a statement on the pool that meets a row moved meanwhile (40001) is sent again", async () => {
  await (await plainSchema("p_moved")).partition();
  const [job] = await db.sql<{ id: string }[]>`
    INSERT INTO p_moved.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
    VALUES ('executing', 'q', 'w', 1, now(), 'n') RETURNING id`;
  const id = job?.id as string;
  const mover = await db.sql.reserve();
  try {
    // An ack, uncommitted: the row moves from jobs_live to a completed partition.
    await mover`BEGIN`;
    await mover`UPDATE p_moved.jobs SET state = 'completed', completed_at = now() WHERE id = ${id}`;
    const cancel = cancelJob(db.sql, "p_moved", id);
    await lockWaiters(db, null, "the cancel to wait on the moving row");
    await mover`COMMIT`;
    // Sent again, the cancel finds the job finished, as on the plain table: nothing to cancel.
    expect(await cancel).toBeNull();
  } finally {
    mover.release();
  }
  const [row] = await db.sql<{ state: string }[]>`SELECT state FROM p_moved.jobs WHERE id = ${id}`;
  expect(row?.state).toBe("completed");
});

test("the pruner drops whole days past retention, deletes the default's, and never waits", async () => {
  await (await plainSchema("p_prune")).partition();
  // Two days ago has a partition now; five days ago is older than any, so it is in the default.
  const twoDaysAgo = utcDay(-2);
  await run(db.sql, createDayPartition("p_prune", "completed", twoDaysAgo));
  await db.sql`
    INSERT INTO p_prune.jobs (state, queue, worker, attempt, completed_at)
    SELECT 'completed', 'q', 'w', 1, t FROM (VALUES (now() - interval '2 days'),
      (now() - interval '5 days'), (now() - interval '10 minutes')) AS v(t)`;
  const pruner = new Pruner({ maxAge: "1h" });
  const target = { executor: db.sql, schema: "p_prune" };

  // A reader of the old day holds its lock: the detach gives up at once and tries next run.
  const reader = await db.sql.reserve();
  const dayTable = `jobs_completed_${twoDaysAgo.replaceAll("-", "")}`;
  try {
    await reader`BEGIN`;
    await reader.unsafe(`SELECT count(*) FROM p_prune.${dayTable}`);
    const blocked = await pruner.runOnce(target);
    expect(blocked.partitions?.dropped).not.toContain(dayTable);
    expect(blocked.deleted).toBe(1); // the default partition's job, five days old
  } finally {
    await reader`ROLLBACK`;
    reader.release();
  }
  const result = await pruner.runOnce(target);
  expect(result.partitions?.dropped).toContain(dayTable);
  const left = await db.sql<{ age: string }[]>`
    SELECT (now() - completed_at < interval '1 day')::text AS age FROM p_prune.jobs`;
  expect(left).toEqual([{ age: "true" }]);
  // Days ahead exist: today to two days on, for every finished state.
  expect(await run(db.sql, missingDayPartitions("p_prune", null, 3))).toEqual([]);
});

test("one run drops a backlog of days of every state, each state by its own retention", async () => {
  await (await plainSchema("p_backlog")).partition();
  // A leader away for weeks: eighteen completed days (more than one drop statement takes), and
  // a cancelled and a discarded day three days ago; discarded jobs are kept for a week.
  const days = Array.from({ length: 18 }, (_, k) => utcDay(-2 - k));
  for (const d of days) await run(db.sql, createDayPartition("p_backlog", "completed", d));
  await run(db.sql, createDayPartition("p_backlog", "cancelled", utcDay(-3)));
  await run(db.sql, createDayPartition("p_backlog", "discarded", utcDay(-3)));
  await db.sql`
    INSERT INTO p_backlog.jobs (state, queue, worker, attempt, discarded_at)
    VALUES ('discarded', 'q', 'w', 1, now() - interval '3 days')`;
  const pruner = new Pruner({ maxAge: "1d", maxAgeByState: { discarded: "7d" } });
  const result = await pruner.runOnce({ executor: db.sql, schema: "p_backlog" });
  const stamp = (d: string) => d.replaceAll("-", "");
  const expected = [
    ...days.map((d) => `jobs_completed_${stamp(d)}`),
    `jobs_cancelled_${stamp(utcDay(-3))}`,
  ];
  expect(result.partitions?.dropped.sort()).toEqual(expected.sort());
  const [kept] = await db.sql<{ n: number }[]>`
    SELECT count(*)::integer AS n FROM p_backlog.jobs WHERE state = 'discarded'`;
  expect(kept?.n).toBe(1);
  const [tables] = await db.sql<{ n: number }[]>`
    SELECT count(*)::integer AS n FROM pg_class
    WHERE relnamespace = 'p_backlog'::regnamespace AND relname = ANY(${expected}::text[])`;
  expect(tables?.n).toBe(0);
});

/** A completed job finished two days ago, in that day's partition; returns the partition's name. */
async function jobTwoDaysAgo(schema: string): Promise<string> {
  const twoDaysAgo = utcDay(-2);
  await run(db.sql, createDayPartition(schema, "completed", twoDaysAgo));
  await db.sql`
    INSERT INTO ${db.sql(schema)}.jobs (queue, worker, state, attempt, completed_at)
    VALUES ('q', 'w', 'completed', 1, now() - interval '2 days')`;
  return `jobs_completed_${twoDaysAgo.replaceAll("-", "")}`;
}

test("a day detached by a run whose drop failed is dropped by the next run", async () => {
  const migrator = await plainSchema("p_leftover");
  await migrator.partition();
  const dayTable = await jobTwoDaysAgo("p_leftover");
  // A run detached the day, then lost its connection before the DROP.
  const detached = await run(db.sql, detachDayPartitions("p_leftover", { completed: day }));
  expect(detached.map((d) => d.name)).toEqual([dayTable]);
  const result = await new Pruner({ maxAge: "1d" }).runOnce({
    executor: db.sql,
    schema: "p_leftover",
  });
  expect(result.partitions?.dropped).toEqual([dayTable]);
  const [left] = await db.sql<{ table: string | null }[]>`
    SELECT to_regclass(${`p_leftover.${dayTable}`})::text AS table`;
  expect(left?.table).toBeNull();
});

test("a schema partitioned under a running pruner has its days dropped from the next run", async () => {
  const migrator = await plainSchema("p_under");
  const pruner = new Pruner({ maxAge: "1d" });
  const target = { executor: db.sql, schema: "p_under" };
  // The first run sees (and the pool remembers) the plain table: it prunes by DELETE.
  expect((await pruner.runOnce(target)).partitions).toBeUndefined();
  await migrator.partition();
  const dayTable = await jobTwoDaysAgo("p_under");
  const result = await pruner.runOnce(target);
  expect(result.partitions?.dropped).toEqual([dayTable]);
  expect(result.deleted).toBe(0);
});
