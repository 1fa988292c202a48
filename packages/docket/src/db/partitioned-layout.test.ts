import { beforeAll, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { run } from "../sql/executor.js";
import { ackJobs, fetchJobs } from "../sql/jobs.js";
import {
  createDayPartitions,
  detachDayPartitions,
  dropDetachedPartition,
} from "../sql/partitions.js";
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
