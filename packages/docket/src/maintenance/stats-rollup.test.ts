import type { Sql } from "postgres";
import { beforeEach, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { compile } from "../sql/executor.js";
import { rollupJobStats } from "../sql/observability/job-stats.js";
import { StatsRollup } from "./stats-rollup.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const rollup = () => new StatsRollup({ interval: 60_000, retention: 86_400_000, lag: 0 });
const target = () => ({ executor: db.sql, schema: "docket" });

beforeEach(async () => {
  await makeQueue().migrate();
  await db.sql`TRUNCATE docket.jobs, docket.job_stats`;
});

/** Finished jobs, `minutesAgo` whole minutes back, that ran `execMs` after waiting `waitMs`. */
async function finished(
  sql: Sql,
  rows: { state: string; minutesAgo: number; execMs: number; waitMs: number; worker?: string }[],
): Promise<void> {
  await sql`
    INSERT INTO docket.jobs (state, queue, worker, attempt, scheduled_at, attempted_at,
      completed_at, discarded_at, cancelled_at, attempted_by)
    SELECT x.state::docket.job_state, 'default', x.worker, 1,
      x.done - (x.exec + x.wait) * interval '1 ms', x.done - x.exec * interval '1 ms',
      CASE WHEN x.state = 'completed' THEN x.done END,
      CASE WHEN x.state = 'discarded' THEN x.done END,
      CASE WHEN x.state = 'cancelled' THEN x.done END, 'n'
    FROM (
      SELECT r.state, coalesce(r.worker, 'w.one') AS worker, r.exec, r.wait,
        date_trunc('minute', now()) - r.ago * interval '1 minute' + interval '10 seconds' AS done
      FROM jsonb_to_recordset(${sql.json(rows.map((r) => ({ state: r.state, ago: r.minutesAgo, exec: r.execMs, wait: r.waitMs, worker: r.worker ?? null })))})
        AS r(state text, ago int, exec float8, wait float8, worker text)
    ) AS x`;
}

async function setWatermark(sql: Sql, minutesAgo: number): Promise<void> {
  await sql`UPDATE docket.job_stats_rollup
    SET rolled_through = date_trunc('minute', now()) - ${minutesAgo} * interval '1 minute'`;
}

test("finished minutes become one row per queue, worker and outcome, with percentiles", async () => {
  const queue = makeQueue();
  await queue.migrate();
  await setWatermark(db.sql, 10);
  await finished(db.sql, [
    { state: "completed", minutesAgo: 3, execMs: 100, waitMs: 10 },
    { state: "completed", minutesAgo: 3, execMs: 200, waitMs: 20 },
    { state: "completed", minutesAgo: 3, execMs: 300, waitMs: 30 },
    { state: "discarded", minutesAgo: 2, execMs: 50, waitMs: 5 },
    { state: "completed", minutesAgo: 2, execMs: 70, waitMs: 0, worker: "w.two" },
  ]);
  const result = await rollup().runOnce(target());
  expect(result).toMatchObject({ minutes: 10, rows: 3, deleted: 0 });
  const stats = await queue.stats({ since: "1h" });
  expect(stats.map((s) => [s.worker, s.outcome, s.count])).toEqual([
    ["w.one", "completed", 3],
    ["w.one", "discarded", 1],
    ["w.two", "completed", 1],
  ]);
  const [first] = stats;
  expect(first?.execP50Ms).toBeCloseTo(200);
  expect(first?.execMaxMs).toBeCloseTo(300);
  expect(first?.waitP95Ms).toBeCloseTo(29);
  expect(first?.at.getTime()).toBe(Math.floor(Date.now() / 60_000) * 60_000 - 3 * 60_000);
  const hourly = await queue.stats({ since: "1h", by: "hour", worker: "w.one" });
  expect(hourly.reduce((n, s) => n + s.count, 0)).toBe(4);
});

test("a minute rolled up twice (a new leader, a watermark moved back) is counted once", async () => {
  const queue = makeQueue();
  await queue.migrate();
  await setWatermark(db.sql, 5);
  await finished(db.sql, [
    { state: "completed", minutesAgo: 2, execMs: 10, waitMs: 1 },
    { state: "cancelled", minutesAgo: 2, execMs: 10, waitMs: 1 },
  ]);
  // Two leaders for a moment: both run at once; the watermark row makes them take turns.
  const [a, b] = await Promise.all([rollup().runOnce(target()), rollup().runOnce(target())]);
  expect(a.minutes + b.minutes).toBe(5);
  await setWatermark(db.sql, 5);
  await rollup().runOnce(target());
  const stats = await queue.stats();
  expect(stats.map((s) => [s.outcome, s.count])).toEqual([
    ["cancelled", 1],
    ["completed", 1],
  ]);
  const [mark] = await db.sql<{ through: Date }[]>`
    SELECT rolled_through AS through FROM docket.job_stats_rollup`;
  expect(mark?.through.getTime()).toBe(Math.floor(Date.now() / 60_000) * 60_000);
});

test("a minute is rolled up only once it ended lag ago, and old history is deleted", async () => {
  const queue = makeQueue();
  await queue.migrate();
  await setWatermark(db.sql, 0);
  await db.sql`INSERT INTO docket.job_stats (minute, queue, worker, outcome, count)
    VALUES (now() - interval '2 days', 'default', 'w', 'completed', 1)`;
  const result = await new StatsRollup({
    interval: 60_000,
    retention: 86_400_000,
    lag: 120_000,
  }).runOnce(target());
  expect(result).toMatchObject({ minutes: 0, rows: 0, deleted: 1 });
  expect(await queue.stats({ since: new Date(0) })).toEqual([]);
});

test("stats() names a bad option", async () => {
  const queue = makeQueue();
  await expect(queue.stats({ by: "week" as "day" })).rejects.toThrow(/stats\.by/);
});

test("the rollup is planned at its real size: no JIT compilation on a long history", async () => {
  // 100,000 jobs finished an hour ago, before the watermark: nothing to roll up. Guessing that
  // the one-row watermark table holds 2,200 rows, the planner once costed this statement in
  // the millions, and PostgreSQL JIT-compiled it on every run (0.9 s for a 1 ms statement).
  await db.sql`
    INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, completed_at)
    SELECT 'completed', 'default', 'w', 1, now() - interval '1 hour', now() - interval '1 hour'
    FROM generate_series(1, 100000)`;
  await db.sql`ANALYZE docket.jobs`;
  await setWatermark(db.sql, 1);
  const query = compile(rollupJobStats("docket", 0, 60));
  const [row] = await db.sql.unsafe(
    `EXPLAIN (FORMAT JSON) ${query.sql}`,
    query.parameters as never[],
  );
  const [plan] = (row as unknown as { "QUERY PLAN": { Plan: { "Total Cost": number } }[] })[
    "QUERY PLAN"
  ];
  const [jit] = await db.sql<{ cost: string }[]>`SELECT current_setting('jit_above_cost') AS cost`;
  expect(plan?.Plan["Total Cost"]).toBeLessThan(Number(jit?.cost));
});
