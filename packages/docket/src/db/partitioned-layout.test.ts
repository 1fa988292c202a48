import { beforeAll, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { run } from "../sql/executor.js";
import { ackJobs, fetchJobs } from "../sql/jobs.js";
import {
  createDayPartitions,
  detachDayPartitions,
  dropDetachedPartition,
} from "../sql/maintenance/partitions.js";
import { applyPartitionedLayout } from "./partitioned-layout.js";

const db = useTestDatabase();
const day = 86_400_000;

/** The leaf table that holds a job now. */
async function leafOf(id: string): Promise<string | undefined> {
  const [row] = await db.sql<{ leaf: string }[]>`
    SELECT tableoid::regclass::text AS leaf FROM docket.jobs WHERE id = ${id}`;
  return row?.leaf;
}

beforeAll(async () => {
  await applyPartitionedLayout(db.sql, "docket");
});

test("the layout applies once: a second run fails and changes nothing", async () => {
  await expect(applyPartitionedLayout(db.sql, "docket")).rejects.toThrow(
    /partitioned layout failed/,
  );
});

test("insert, claim and ack work on the partitioned table, and pruning drops whole days", async () => {
  const today = new Date().toISOString().slice(0, 10);
  const past = new Date(Date.now() - 3 * day).toISOString().slice(0, 10);
  await run(db.sql, createDayPartitions("docket", past, 5));
  const inserted = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (queue, worker) SELECT 'part', 'w' FROM generate_series(1, 2)
    RETURNING id`;
  const ids = inserted.map((r) => r.id).sort();
  expect(await leafOf(ids[0] as string)).toBe("docket.jobs_live");

  const claimed = await run(db.sql, fetchJobs("docket", "part", 10, "node-a"));
  expect(claimed.map((j) => j.id).sort()).toEqual(ids);
  const [acked] = await run(
    db.sql,
    ackJobs("docket", "node-a", { ids, attempts: claimed.map(() => 1) }, []),
  );
  expect(acked?.ids?.split(",").sort()).toEqual(ids);
  const stamp = today.replaceAll("-", "");
  expect(await leafOf(ids[0] as string)).toBe(`docket.jobs_completed_${stamp}`);

  // One job finished three days ago: moving its timestamp moves it to that day's partition.
  const [old, fresh] = ids as [string, string];
  await db.sql`
    UPDATE docket.jobs SET completed_at = completed_at - interval '3 days' WHERE id = ${old}`;
  expect(await leafOf(old)).toBe(`docket.jobs_completed_${past.replaceAll("-", "")}`);

  // Retention of one day: the day of three days ago goes, today's stays.
  const detached = await run(db.sql, detachDayPartitions("docket", "completed", day));
  expect(detached.map((d) => d.name)).toContain(`jobs_completed_${past.replaceAll("-", "")}`);
  expect(detached.map((d) => d.name)).not.toContain(`jobs_completed_${stamp}`);
  for (const { name } of detached) await run(db.sql, dropDetachedPartition("docket", name));
  expect(await leafOf(old)).toBeUndefined();
  expect(await leafOf(fresh)).toBe(`docket.jobs_completed_${stamp}`);
  const [left] = await db.sql<{ n: number }[]>`
    SELECT count(*)::integer AS n FROM pg_class WHERE relname = ${`jobs_completed_${past.replaceAll("-", "")}`}`;
  expect(left?.n).toBe(0);
});

test("a move to a finished partition still settles dependents and counts batch outcomes", async () => {
  const [batch] = await db.sql<{ id: string }[]>`
    INSERT INTO docket.batches (total, remaining, callback_on, callback)
    VALUES (2, 2, 'finished', '{"queue": "cb", "worker": "cbw", "priority": 0, "max_attempts": 3}')
    RETURNING id`;
  const batchId = batch?.id as string;
  const members = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (state, queue, worker, batch_id, attempt, attempted_at, attempted_by)
    VALUES ('executing', 'tq', 'w', ${batchId}, 1, now(), 'n'),
      ('executing', 'tq', 'w', ${batchId}, 1, now(), 'n')
    RETURNING id`;
  // The row moves from jobs_live to a discarded partition: a DELETE and an INSERT underneath.
  await db.sql`
    UPDATE docket.jobs SET state = 'discarded', discarded_at = now() WHERE id = ${members[0]?.id as string}`;
  const [counts] = await db.sql<{ remaining: number; discarded: number; cancelled: number }[]>`
    SELECT remaining, discarded, cancelled FROM docket.batches WHERE id = ${batchId}`;
  expect(counts).toEqual({ remaining: 1, discarded: 1, cancelled: 0 });

  const [dependent] = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (state, queue, worker, scheduled_at, waiting_on, dependency_policy)
    VALUES ('scheduled', 'dq', 'w', 'infinity', 1, 'cancel') RETURNING id`;
  const [dependency] = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (queue, worker, dependents)
    VALUES ('dq', 'w', ARRAY[${dependent?.id as string}]::bigint[]) RETURNING id`;
  await db.sql`
    UPDATE docket.jobs SET state = 'cancelled', cancelled_at = now()
    WHERE id = ${dependency?.id as string}`;
  const rows = await db.sql<{ id: string; state: string }[]>`
    SELECT id, state FROM docket.jobs WHERE queue = 'dq' ORDER BY id`;
  expect(rows.map((r) => r.state)).toEqual(["cancelled", "cancelled"]);
});
