import type { Sql } from "postgres";
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { partitionedSuite } from "../../../../test/support/partitioned-suite.js";
import { nextEvent } from "../../../../test/support/wait.js";
import { Migrator } from "../db/migrator.js";
import { ConfigError } from "../errors.js";
import { Queue } from "../queue.js";
import { compile } from "../sql/executor.js";
import { pruneJobs } from "../sql/maintenance/prune-rescue.js";
import type { JobState } from "../types.js";
import { Pruner } from "./pruner.js";

const db = useTestDatabase();
const hour = 3_600_000;
/**
 * The schema of the `Pruner.runOnce` tests: the row-by-row DELETE pruner of the plain table. On the
 * partitioned layout (the suite's second pass) it keeps whole days and drops them: that pruner is
 * tested in db/partitioned-layout.test.ts, and these tests run on a plain schema of their own.
 */
const schema = partitionedSuite() ? "plain_pruning" : "docket";

beforeAll(async () => {
  if (partitionedSuite()) await new Migrator(db.sql, schema).up();
});

interface JobSpec {
  state: JobState;
  /** Age of the state's own timestamp (completed_at, cancelled_at or discarded_at), in ms. */
  ageMs: number;
  /** Age given to every other timestamp, to show they are not what counts. */
  otherAgeMs?: number;
}

const stampOf: Partial<Record<JobState, string>> = {
  completed: "completed_at",
  cancelled: "cancelled_at",
  discarded: "discarded_at",
};

/** Inserts jobs with the given states and ages; returns their ids in order. */
async function insertJobs(sql: Sql, specs: JobSpec[]): Promise<string[]> {
  const rows = specs.map((s, ord) => ({
    ord,
    state: s.state,
    own: s.ageMs,
    other: s.otherAgeMs ?? s.ageMs,
    stamp: stampOf[s.state] ?? null,
  }));
  const inserted = await sql<{ id: string }[]>`
    INSERT INTO ${sql(schema)}.jobs (state, queue, worker, attempt, inserted_at, scheduled_at,
      attempted_at, completed_at, cancelled_at, discarded_at, attempted_by)
    SELECT x.state::${sql(schema)}.job_state, 'default', 'test.worker', 1,
      now() - x.other * interval '1 ms', now() - x.other * interval '1 ms', now() - x.other * interval '1 ms',
      now() - (CASE WHEN x.stamp = 'completed_at' THEN x.own ELSE x.other END) * interval '1 ms',
      now() - (CASE WHEN x.stamp = 'cancelled_at' THEN x.own ELSE x.other END) * interval '1 ms',
      now() - (CASE WHEN x.stamp = 'discarded_at' THEN x.own ELSE x.other END) * interval '1 ms',
      'some-node'
    FROM jsonb_to_recordset(${sql.json(rows)}) AS x(ord int, state text, own float8, other float8, stamp text)
    ORDER BY x.ord
    RETURNING id::text`;
  return inserted.map((r) => r.id);
}

async function remaining(sql: Sql): Promise<string[]> {
  const rows = await sql<
    { id: string }[]
  >`SELECT j.id::text AS id FROM ${sql(schema)}.jobs AS j ORDER BY j.id`;
  return rows.map((r) => r.id);
}

const target = () => ({ executor: db.sql, schema });

beforeEach(async () => {
  await db.sql`TRUNCATE ${db.sql(schema)}.jobs`;
});

describe("Pruner.runOnce", () => {
  test("deletes finished jobs older than maxAge and nothing else", async () => {
    const old = 2 * hour;
    const young = 10 * 60_000;
    const ids = await insertJobs(db.sql, [
      { state: "completed", ageMs: old }, // 0: pruned
      { state: "cancelled", ageMs: old }, // 1: pruned
      { state: "discarded", ageMs: old }, // 2: pruned
      { state: "completed", ageMs: young }, // 3: kept
      { state: "cancelled", ageMs: young }, // 4: kept
      { state: "discarded", ageMs: young }, // 5: kept
      // Unfinished states are never pruned, however old every timestamp is.
      { state: "available", ageMs: 100 * hour }, // 6
      { state: "scheduled", ageMs: 100 * hour }, // 7
      { state: "executing", ageMs: 100 * hour }, // 8
      { state: "retryable", ageMs: 100 * hour }, // 9
    ]);
    const result = await new Pruner({ maxAge: "1h" }).runOnce(target());
    expect(result).toEqual({ deleted: 3, byState: { completed: 1, cancelled: 1, discarded: 1 } });
    expect(await remaining(db.sql)).toEqual(ids.slice(3));
  });

  test("judges each state by its own timestamp", async () => {
    const ids = await insertJobs(db.sql, [
      // Finished recently, though inserted and attempted long ago: kept.
      { state: "completed", ageMs: 60_000, otherAgeMs: 100 * hour },
      { state: "cancelled", ageMs: 60_000, otherAgeMs: 100 * hour },
      { state: "discarded", ageMs: 60_000, otherAgeMs: 100 * hour },
      // Finished long ago, though the other timestamps are recent: pruned.
      { state: "completed", ageMs: 100 * hour, otherAgeMs: 0 },
      { state: "cancelled", ageMs: 100 * hour, otherAgeMs: 0 },
      { state: "discarded", ageMs: 100 * hour, otherAgeMs: 0 },
    ]);
    const result = await new Pruner({ maxAge: "1h" }).runOnce(target());
    expect(result.deleted).toBe(3);
    expect(await remaining(db.sql)).toEqual(ids.slice(0, 3));
  });

  test("maxAgeByState overrides maxAge per state, and false keeps a state for ever", async () => {
    const ids = await insertJobs(db.sql, [
      { state: "completed", ageMs: 2 * hour }, // 0: pruned (maxAge 1h)
      { state: "discarded", ageMs: 2 * hour }, // 1: kept (7d)
      { state: "discarded", ageMs: 8 * 24 * hour }, // 2: pruned (older than 7d)
      { state: "cancelled", ageMs: 1000 * 24 * hour }, // 3: kept (false)
      { state: "completed", ageMs: 30 * 60_000 }, // 4: kept
    ]);
    const pruner = new Pruner({
      maxAge: "1h",
      maxAgeByState: { discarded: "7d", cancelled: false },
    });
    const result = await pruner.runOnce(target());
    expect(result).toEqual({ deleted: 2, byState: { completed: 1, cancelled: 0, discarded: 1 } });
    expect(await remaining(db.sql)).toEqual([ids[1], ids[3], ids[4]]);
  });

  test("deletes at most limit jobs a run, oldest first, in batches", async () => {
    // 2,500 completed jobs, ages 3h + n seconds: the higher n, the older.
    const specs = Array.from({ length: 2500 }, (_, n) => ({
      state: "completed" as const,
      ageMs: 3 * hour + n * 1000,
    }));
    const ids = await insertJobs(db.sql, specs);
    const pruner = new Pruner({ maxAge: "1h", limit: 1000, batchSize: 300 });
    expect(await pruner.runOnce(target())).toEqual({
      deleted: 1000,
      byState: { completed: 1000, cancelled: 0, discarded: 0 },
    });
    // The 1,000 oldest (the last inserted) are gone.
    expect(await remaining(db.sql)).toEqual(ids.slice(0, 1500));
    expect((await pruner.runOnce(target())).deleted).toBe(1000);
    expect((await pruner.runOnce(target())).deleted).toBe(500);
    expect((await pruner.runOnce(target())).deleted).toBe(0);
  });

  test("shares the limit between states, so a backlog of one does not starve the others", async () => {
    await insertJobs(db.sql, [
      ...Array.from({ length: 600 }, () => ({ state: "completed" as const, ageMs: 2 * hour })),
      ...Array.from({ length: 20 }, () => ({ state: "discarded" as const, ageMs: 2 * hour })),
      ...Array.from({ length: 20 }, () => ({ state: "cancelled" as const, ageMs: 2 * hour })),
    ]);
    const result = await new Pruner({ maxAge: "1h", limit: 300, batchSize: 100 }).runOnce(target());
    expect(result).toEqual({
      deleted: 300,
      byState: { completed: 260, cancelled: 20, discarded: 20 },
    });
  });

  test("skips rows that another transaction holds locked instead of waiting", async () => {
    const [lockedId, freeId] = await insertJobs(db.sql, [
      { state: "completed", ageMs: 3 * hour },
      { state: "completed", ageMs: 2 * hour },
    ]);
    const reserved = await db.sql.reserve();
    try {
      await reserved`BEGIN`;
      await reserved`SELECT 1 FROM ${reserved(schema)}.jobs WHERE id = ${lockedId as string} FOR UPDATE`;
      const result = await new Pruner({ maxAge: "1h" }).runOnce(target());
      expect(result.deleted).toBe(1);
      await reserved`ROLLBACK`;
    } finally {
      reserved.release();
    }
    expect(await remaining(db.sql)).toEqual([lockedId]);
    expect(freeId).toBeDefined();
  });
});

describe("the prune statement", () => {
  test.each(["completed", "cancelled", "discarded"] as const)(
    "walks the %s partial index, also as a generic prepared plan",
    async (state) => {
      // 60,000 rows, mostly unfinished, so that a sequential scan would be the costly choice.
      await db.sql`
        INSERT INTO docket.jobs (state, queue, worker, completed_at, cancelled_at, discarded_at)
        SELECT (CASE WHEN n % 20 = 0 THEN ${state} ELSE 'available' END)::docket.job_state,
          'default', 'w', now() - n * interval '1 second', now() - n * interval '1 second',
          now() - n * interval '1 second'
        FROM generate_series(1, 60000) AS n`;
      await db.sql`ANALYZE docket.jobs`;
      const reserved = await db.sql.reserve();
      try {
        await reserved`SET plan_cache_mode = force_generic_plan`;
        for (const skipLocked of [false, true]) {
          // Partitioned, the pruner deletes from the default partition only (days are dropped).
          const table = partitionedSuite() ? `jobs_${state}_default` : "jobs";
          const compiled = compile(pruneJobs("docket", state, hour, 1000, skipLocked, table));
          await reserved.unsafe(`PREPARE prune_plan AS ${compiled.sql}`);
          const params = compiled.parameters.map((p) =>
            typeof p === "number" ? String(p) : `'${String(p)}'`,
          );
          const plan = await reserved.unsafe<{ "QUERY PLAN": string }[]>(
            `EXPLAIN EXECUTE prune_plan(${params.join(", ")})`,
          );
          const text = plan.map((row) => row["QUERY PLAN"]).join("\n");
          if (partitionedSuite()) {
            expect(text).toContain(`jobs_${state}_default`);
            expect(text).not.toMatch(/jobs_live|jobs_[a-z]+_\d{8}/);
          } else {
            expect(text).toContain(`jobs_prune_${state}_idx`);
            expect(text).not.toMatch(/Seq Scan on jobs/);
          }
          await reserved`DEALLOCATE prune_plan`;
        }
      } finally {
        reserved.release();
      }
    },
  );
});

describe("pruner options", () => {
  test("defaults follow Oban: every minute, one day, 10,000 a run", () => {
    const { options } = new Pruner();
    expect(options).toMatchObject({ interval: 60_000, maxAge: 86_400_000, limit: 10_000 });
  });

  test("an unknown key names the option and suggests the intended one", () => {
    expect(() => new Pruner({ maxAg: "1h" } as never)).toThrow(ConfigError);
    expect(() => new Pruner({ maxAg: "1h" } as never)).toThrow(
      /pruner\.maxAg.*did you mean "maxAge"/,
    );
    expect(() => new Queue({ connection: "postgres://x/y", pruner: { limt: 5 } as never })).toThrow(
      /pruner\.limt.*did you mean "limit"/,
    );
  });

  test("a bad per-state age names the state", () => {
    expect(() => new Pruner({ maxAgeByState: { discarded: "forever" } as never })).toThrow(
      /pruner\.maxAgeByState\.discarded/,
    );
  });

  test("an interval of one second is accepted", () => {
    expect(new Pruner({ interval: 1 }).options.interval).toBe(1000);
  });
});

describe("the pruner on a running queue", () => {
  test("runs on the leader and reports every run as maintenance:prune", async () => {
    await insertJobs(db.sql, [
      { state: "completed", ageMs: 2 * hour },
      { state: "discarded", ageMs: 2 * hour },
      { state: "completed", ageMs: 60_000 },
    ]);
    const queue = new Queue({
      connection: db.url,
      schema,
      poolSize: 3,
      pruner: { interval: 1, maxAge: "1h" },
      lifeline: false,
    });
    const event = nextEvent(queue, "maintenance:prune");
    try {
      await queue.start();
      const [result] = await event;
      expect(queue.isLeader).toBe(true);
      expect(result).toMatchObject({
        deleted: 2,
        byState: { completed: 1, cancelled: 0, discarded: 1 },
      });
      expect(result.durationMs).toEqual(expect.any(Number));
    } finally {
      await queue.stop();
    }
    expect(await db.sql`SELECT 1 FROM ${db.sql(schema)}.jobs`).toHaveLength(1);
  });
});
