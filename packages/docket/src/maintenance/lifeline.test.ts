import type { Sql } from "postgres";
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { partitionedSuite } from "../../../../test/support/partitioned-suite.js";
import { ConfigError } from "../errors.js";
import { type AckRow, ackJobs } from "../sql/ack.js";
import { compile, run } from "../sql/executor.js";
import { rescueJobs } from "../sql/maintenance/prune-rescue.js";
import { Lifeline } from "./lifeline.js";

const db = useTestDatabase();
const minute = 60_000;
const heartbeatTimeoutMs = 30_000;
const target = () => ({ executor: db.sql, schema: "docket", heartbeatTimeoutMs });

interface ExecutingJob {
  /** The node running it; null for a job that names none. */
  node?: string | null;
  queue?: string;
  /** How long ago it started, in ms. */
  startedMsAgo: number;
  attempt?: number;
  maxAttempts?: number;
  meta?: Record<string, unknown>;
}

async function insertExecuting(sql: Sql, jobs: ExecutingJob[]): Promise<string[]> {
  const ids: string[] = [];
  for (const job of jobs) {
    const [row] = await sql<{ id: string }[]>`
      INSERT INTO docket.jobs (state, queue, worker, attempt, max_attempts, attempted_at, attempted_by, meta)
      VALUES ('executing', ${job.queue ?? "default"}, 'test.worker', ${job.attempt ?? 1},
        ${job.maxAttempts ?? 20}, now() - ${job.startedMsAgo} * interval '1 ms',
        ${job.node === undefined ? "node-a" : job.node}, ${sql.json((job.meta ?? {}) as never)})
      RETURNING id::text`;
    ids.push((row as { id: string }).id);
  }
  return ids;
}

/** A producer row whose last heartbeat was `msAgo` ago. */
async function heartbeat(sql: Sql, node: string, queue: string, msAgo: number): Promise<void> {
  await sql`
    INSERT INTO docket.producers (node, queue, started_at, heartbeat_at, concurrency)
    VALUES (${node}, ${queue}, now() - interval '1 hour', now() - ${msAgo} * interval '1 ms', 10)
    ON CONFLICT (node, queue) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`;
}

async function job(sql: Sql, id: string) {
  const [row] = await sql<
    { state: string; attempt: number; meta: Record<string, unknown>; errors: { error: string }[] }[]
  >`SELECT state, attempt, meta, errors FROM docket.jobs WHERE id = ${id}`;
  return row as NonNullable<typeof row>;
}

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.producers`;
});

describe("accurate rescue (trustHeartbeats, the default)", () => {
  test("rescues the jobs of a producer whose heartbeat is stale, however young the jobs", async () => {
    await heartbeat(db.sql, "node-a", "default", heartbeatTimeoutMs + 5_000);
    const [id] = await insertExecuting(db.sql, [{ startedMsAgo: 1_000, attempt: 3 }]);
    const result = await new Lifeline().runOnce(target());
    expect(result).toMatchObject({ rescued: 1, discarded: 0 });
    expect(result.jobs[0]).toMatchObject({
      id,
      state: "available",
      attempt: 3,
      attemptedBy: "node-a",
    });
    expect(result.jobs[0]?.reason).toMatch(/node-a\/default stopped heartbeating/);
    const stored = await job(db.sql, id as string);
    expect(stored).toMatchObject({ state: "available", attempt: 3, meta: { rescued: 1 } });
    expect(stored.errors.at(-1)?.error).toMatch(/rescued by the lifeline/);
  });

  test("never rescues the jobs of a producer that heartbeats, however long they run", async () => {
    await heartbeat(db.sql, "node-a", "default", 1_000);
    const [id] = await insertExecuting(db.sql, [{ startedMsAgo: 24 * 60 * minute }]);
    const result = await new Lifeline({ rescueAfter: 1 }).runOnce(target());
    expect(result).toEqual({ rescued: 0, discarded: 0, jobs: [] });
    expect((await job(db.sql, id as string)).state).toBe("executing");
  });

  test("a producer is (node, queue): a live queue does not vouch for a dead one of the same node", async () => {
    await heartbeat(db.sql, "node-a", "live", 1_000);
    await heartbeat(db.sql, "node-a", "dead", heartbeatTimeoutMs * 2);
    const [live, dead] = await insertExecuting(db.sql, [
      { queue: "live", startedMsAgo: 10 * minute },
      { queue: "dead", startedMsAgo: 10 * minute },
    ]);
    const result = await new Lifeline().runOnce(target());
    expect(result.jobs.map((j) => j.id)).toEqual([dead]);
    expect((await job(db.sql, live as string)).state).toBe("executing");
  });

  test("rescues jobs whose producer row is missing once they are older than the heartbeat timeout", async () => {
    const [old, young] = await insertExecuting(db.sql, [
      { node: "gone", startedMsAgo: heartbeatTimeoutMs + 1_000 },
      { node: "gone", startedMsAgo: 1_000 }, // its node may not have written its first beat yet
    ]);
    const result = await new Lifeline().runOnce(target());
    expect(result.jobs.map((j) => j.id)).toEqual([old]);
    expect(result.jobs[0]?.reason).toMatch(/gone\/default is gone/);
    expect((await job(db.sql, young as string)).state).toBe("executing");
  });

  test("jobs that name no node fall back to rescueAfter", async () => {
    const [old, young] = await insertExecuting(db.sql, [
      { node: null, startedMsAgo: 6 * minute },
      { node: null, startedMsAgo: 4 * minute },
    ]);
    const result = await new Lifeline({ rescueAfter: "5m" }).runOnce(target());
    expect(result.jobs.map((j) => j.id)).toEqual([old]);
    expect((await job(db.sql, young as string)).state).toBe("executing");
  });
});

describe("time-based rescue (trustHeartbeats: false)", () => {
  test("rescues by attempted_at alone, even jobs of a producer that heartbeats", async () => {
    await heartbeat(db.sql, "node-a", "default", 0);
    const [old, young] = await insertExecuting(db.sql, [
      { startedMsAgo: 6 * minute },
      { startedMsAgo: 4 * minute },
    ]);
    const result = await new Lifeline({ trustHeartbeats: false, rescueAfter: "5m" }).runOnce(
      target(),
    );
    expect(result.jobs.map((j) => j.id)).toEqual([old]);
    expect(result.jobs[0]?.reason).toBe("executing longer than rescueAfter");
    expect((await job(db.sql, young as string)).state).toBe("executing");
  });
});

describe("what a rescue does to a job", () => {
  test("discards a job that has used up its attempts, and counts meta.rescued on", async () => {
    const [last, again] = await insertExecuting(db.sql, [
      { node: "gone", startedMsAgo: 2 * heartbeatTimeoutMs, attempt: 5, maxAttempts: 5 },
      {
        node: "gone",
        startedMsAgo: 2 * heartbeatTimeoutMs,
        attempt: 2,
        maxAttempts: 5,
        meta: { rescued: 1, keep: "me" },
      },
    ]);
    const result = await new Lifeline().runOnce(target());
    expect(result).toMatchObject({ rescued: 1, discarded: 1 });
    const discarded = await db.sql<{ state: string; discarded_at: Date | null }[]>`
      SELECT state, discarded_at FROM docket.jobs WHERE id = ${last as string}`;
    expect(discarded[0]?.state).toBe("discarded");
    expect(discarded[0]?.discarded_at).toBeInstanceOf(Date);
    expect(await job(db.sql, again as string)).toMatchObject({
      state: "available",
      attempt: 2,
      meta: { rescued: 2, keep: "me" },
    });
  });

  test("leaves jobs in every other state alone", async () => {
    await db.sql`
      INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
      SELECT s::docket.job_state, 'default', 'w', 1, now() - interval '10 days', 'gone'
      FROM unnest(ARRAY['available','scheduled','retryable','completed','discarded','cancelled']) AS s`;
    const before = await db.sql`SELECT * FROM docket.jobs ORDER BY id`;
    const result = await new Lifeline({ trustHeartbeats: false, rescueAfter: 1 }).runOnce(target());
    expect(result.jobs).toEqual([]);
    expect(await db.sql`SELECT * FROM docket.jobs ORDER BY id`).toEqual(before);
  });

  test("works through more orphans than one batch", async () => {
    await insertExecuting(
      db.sql,
      Array.from({ length: 25 }, () => ({ node: "gone", startedMsAgo: 2 * heartbeatTimeoutMs })),
    );
    const result = await new Lifeline({ batchSize: 10 }).runOnce(target());
    expect(result.rescued).toBe(25);
  });
});

describe("a job completing while the lifeline runs", () => {
  test("a job whose completion is being stored is skipped, and stays completed", async () => {
    const [id] = await insertExecuting(db.sql, [
      { node: "gone", startedMsAgo: 2 * heartbeatTimeoutMs },
    ]);
    const acker = await db.sql.reserve();
    try {
      // The acker has written the outcome but not committed yet when the lifeline comes by.
      await acker`BEGIN`;
      await run(acker, ackJobs("docket", "gone", noPlain, [ackRow(id as string)]));
      const result = await new Lifeline().runOnce(target());
      expect(result.jobs).toEqual([]);
      await acker`COMMIT`;
    } finally {
      acker.release();
    }
    expect((await job(db.sql, id as string)).state).toBe("completed");
    // And once completed, later runs leave it alone too.
    expect((await new Lifeline().runOnce(target())).jobs).toEqual([]);
  });

  test("racing acks and rescues: each job ends as exactly one of them said", async () => {
    const ids = await insertExecuting(
      db.sql,
      Array.from({ length: 300 }, () => ({ node: "gone", startedMsAgo: 2 * heartbeatTimeoutMs })),
    );
    const lifeline = new Lifeline({ batchSize: 7 });
    const acks: Promise<string[]>[] = [];
    const rescues: Promise<{ jobs: { id: string }[] }>[] = [];
    // Interleave small ack batches with lifeline runs, all at once.
    for (let i = 0; i < ids.length; i += 10) {
      acks.push(ackCompleted(ids.slice(i, i + 10)));
      if (i % 30 === 0) rescues.push(lifeline.runOnce(target()));
    }
    const acked = new Set((await Promise.all(acks)).flat());
    const rescued = new Set((await Promise.all(rescues)).flatMap((r) => r.jobs.map((j) => j.id)));
    // A race only if both sides won some jobs.
    expect(acked.size).toBeGreaterThan(0);
    expect(rescued.size).toBeGreaterThan(0);
    const rows = await db.sql<{ id: string; state: string }[]>`
      SELECT j.id::text AS id, j.state FROM docket.jobs AS j ORDER BY j.id`;
    expect(rows).toHaveLength(300);
    for (const row of rows) {
      const winners = Number(acked.has(row.id)) + Number(rescued.has(row.id));
      expect(winners, `job ${row.id}`).toBe(1);
      expect(row.state, `job ${row.id}`).toBe(acked.has(row.id) ? "completed" : "available");
    }
  });
});

describe("the rescue statement", () => {
  test.each([true, false])(
    "looks only at executing jobs, through their index (trustHeartbeats: %s)",
    async (trust) => {
      await db.sql`
      INSERT INTO docket.jobs (state, queue, worker, attempted_at, attempted_by)
      SELECT (CASE WHEN n % 100 = 0 THEN 'executing' ELSE 'completed' END)::docket.job_state,
        'default', 'w', now() - n * interval '1 second', 'node-' || (n % 7)
      FROM generate_series(1, 60000) AS n`;
      await db.sql`ANALYZE docket.jobs`;
      const compiled = compile(
        rescueJobs("docket", {
          trustHeartbeats: trust,
          heartbeatTimeoutMs,
          rescueAfterMs: 5 * minute,
          limit: 1000,
        }),
      );
      const reserved = await db.sql.reserve();
      try {
        await reserved`SET plan_cache_mode = force_generic_plan`;
        await reserved.unsafe(`PREPARE rescue_plan AS ${compiled.sql}`);
        const params = compiled.parameters.map((p) =>
          typeof p === "number" ? String(p) : `'${String(p)}'`,
        );
        const plan = await reserved.unsafe<{ "QUERY PLAN": string }[]>(
          `EXPLAIN EXECUTE rescue_plan(${params.join(", ")})`,
        );
        const text = plan.map((row) => row["QUERY PLAN"]).join("\n");
        if (partitionedSuite()) {
          // The finished jobs are in partitions of their own, which the plan never opens.
          expect(text).toContain("jobs_live");
          expect(text).not.toMatch(/jobs_(completed|discarded|cancelled)/);
        } else {
          expect(text).toContain("jobs_executing_idx");
          expect(text).not.toMatch(/Seq Scan on jobs/);
        }
        await reserved`DEALLOCATE rescue_plan`;
      } finally {
        reserved.release();
      }
    },
  );
});

describe("lifeline options", () => {
  test("defaults follow Oban: every minute, rescue after five minutes, heartbeats trusted", () => {
    expect(new Lifeline().options).toMatchObject({
      interval: 60_000,
      rescueAfter: 300_000,
      trustHeartbeats: true,
    });
  });

  test("an interval of one second is accepted; an unknown key is named", () => {
    expect(new Lifeline({ interval: "1s" }).options.interval).toBe(1000);
    expect(() => new Lifeline({ rescueAfer: "5m" } as never)).toThrow(ConfigError);
    expect(() => new Lifeline({ rescueAfer: "5m" } as never)).toThrow(
      /lifeline\.rescueAfer.*"rescueAfter"/,
    );
  });
});

const noPlain = { ids: [], attempts: [] };

/** Completes attempt 1 of each job as the acker does (plain completions); returns the ids stored. */
async function ackCompleted(ids: string[]): Promise<string[]> {
  const plain = { ids, attempts: ids.map(() => 1) };
  const [row] = await run(db.sql, ackJobs("docket", "gone", plain, []));
  return row?.ids ? row.ids.split(",") : [];
}

function ackRow(id: string): AckRow {
  return { id, attempt: 1, state: "completed", delay_ms: null, refund: 0, error: null, meta: {} };
}
