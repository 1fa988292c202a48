import postgres from "postgres";
import { describe, expect, test } from "vitest";
import { lockWaiters, useTestDatabase } from "../../../../test/support/database.js";
import { waitFor } from "../../../../test/support/wait.js";
import type { AckRow } from "../sql/ack.js";
import { TextExecutor } from "../sql/executor.js";
import type { JobState } from "../types.js";
import { Acker, type AckerOptions } from "./acker.js";

const db = useTestDatabase();

/** Jobs executing attempt 1 on `node`, one per entry; returns their ids. */
async function executing(count: number, node = "n1"): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by, meta)
    SELECT 'executing', 'default', 'w', 1, now(), ${node}, '{"kept":true}'
    FROM generate_series(1, ${count})
    RETURNING id::text`;
  return rows.map((r) => r.id);
}

/** An acker of node n1 on docket's schema; errors are thrown unless `onError` is given. */
function makeAcker(options: Partial<AckerOptions> = {}): Acker {
  return new Acker({
    executor: db.sql,
    schema: "docket",
    node: "n1",
    intervalMs: 1_000,
    batchSize: 100,
    answerWithinMs: 10_000,
    onError: (error) => {
      throw error;
    },
    ...options,
  });
}

/** A plain completion of attempt 1. */
function completion(id: string): AckRow {
  return { id, attempt: 1, state: "completed", delay_ms: null, refund: 0, error: null, meta: {} };
}

describe("Acker", () => {
  test("one batch stores plain completions and every other outcome, each as it said", async () => {
    const [plain, withResult, failed, snoozed, other] = await executing(5);
    const [foreign] = await executing(1, "n2");
    const outcomes: [string, AckRow][] = [
      ["plain", completion(plain as string)],
      ["withResult", { ...completion(withResult as string), meta: { result: { sent: 3 } } }],
      [
        "failed",
        {
          ...completion(failed as string),
          state: "retryable",
          delay_ms: 60_000,
          error: { attempt: 1, at: new Date().toISOString(), error: "Error: boom" },
        },
      ],
      [
        "snoozed",
        { ...completion(snoozed as string), state: "scheduled", delay_ms: 5_000, refund: 1 },
      ],
      ["other", completion(other as string)],
      // Not this node's attempt: left alone, reported as not stored.
      ["foreign", completion(foreign as string)],
    ];
    const acker = makeAcker();
    const reported = new Map<string, JobState | null>();
    for (const [name, ackRow] of outcomes) acker.push(ackRow, (state) => reported.set(name, state));
    await acker.flush();

    expect(Object.fromEntries(reported)).toEqual({
      plain: "completed",
      withResult: "completed",
      failed: "retryable",
      snoozed: "scheduled",
      other: "completed",
      foreign: null,
    });
    const stored = await db.sql<
      {
        id: string;
        state: string;
        attempt: number;
        meta: Record<string, unknown>;
        errors: unknown[];
        done: boolean;
        later_s: number;
      }[]
    >`
      SELECT id::text, state, attempt, meta, errors, completed_at IS NOT NULL AS done,
        round(extract(epoch FROM scheduled_at - now()))::integer AS later_s
      FROM docket.jobs ORDER BY id`;
    const byId = new Map(stored.map((r) => [r.id, r]));
    expect(byId.get(plain as string)).toMatchObject({
      state: "completed",
      meta: { kept: true },
      errors: [],
      done: true,
    });
    expect(byId.get(withResult as string)).toMatchObject({
      state: "completed",
      meta: { kept: true, result: { sent: 3 } },
    });
    expect(byId.get(failed as string)).toMatchObject({
      state: "retryable",
      attempt: 1,
      errors: [{ attempt: 1, error: "Error: boom" }],
      done: false,
      later_s: 60,
    });
    expect(byId.get(snoozed as string)).toMatchObject({
      state: "scheduled",
      attempt: 0,
      later_s: 5,
    });
    expect(byId.get(foreign as string)).toMatchObject({ state: "executing", done: false });
  });

  test("an ack of an earlier attempt is refused: the job of a later attempt is left alone", async () => {
    const [id] = await executing(1);
    await db.sql`UPDATE docket.jobs SET attempt = 2 WHERE id = ${id as string}`;
    const acker = makeAcker();
    let reported: JobState | null | undefined;
    acker.push(completion(id as string), (state) => {
      reported = state;
    });
    await acker.flush();
    expect(reported).toBeNull();
    const [row] = await db.sql`SELECT state, attempt FROM docket.jobs WHERE id = ${id as string}`;
    expect(row).toEqual({ state: "executing", attempt: 2 });
  });

  test("a batch whose connection is terminated mid-statement is sent again and stored", async () => {
    const [id] = await executing(1);
    const pool = postgres(db.url, {
      max: 1,
      onnotice: () => {},
      connection: { application_name: "acker-retry" },
    });
    const errors: unknown[] = [];
    const acker = makeAcker({ executor: pool, onError: (error) => errors.push(error) });
    const blocker = await db.sql.reserve();
    try {
      // The row is locked, so the acker's UPDATE waits; its backend is then terminated.
      await blocker`BEGIN`;
      await blocker`SELECT 1 FROM docket.jobs WHERE id = ${id as string} FOR UPDATE`;
      let reported: JobState | null | undefined;
      acker.push(completion(id as string), (state) => {
        reported = state;
      });
      const flushed = acker.flush();
      const [waiting] = await lockWaiters(db, "acker-retry", "the ack to wait on the row lock");
      await db.sql`SELECT pg_terminate_backend(${waiting as number})`;
      await waitFor(() => errors.length > 0, { what: "the acker to see the error" });
      await blocker`COMMIT`;
      await flushed;
      expect(reported).toBe("completed");
      const [row] = await db.sql`SELECT state FROM docket.jobs WHERE id = ${id as string}`;
      expect(row).toEqual({ state: "completed" });
    } finally {
      blocker.release();
      await pool.end();
    }
  });

  test("outcomes beyond the batch size go in further batches, one statement each", async () => {
    const ids = await executing(25);
    /** Per statement, the outcomes it carried (plain completions: a JSON object of attempts). */
    const statements: number[] = [];
    // docket's own statements on the test's client, counted: one call is one round trip.
    const counted = new TextExecutor((text, values) => {
      statements.push(Object.keys(JSON.parse(values[0] as string)).length);
      return db.sql.unsafe(text, values as never[], { prepare: true });
    });
    const acker = makeAcker({ executor: counted, batchSize: 10 });
    const reported: (JobState | null)[] = [];
    for (const id of ids) acker.push(completion(id), (state) => reported.push(state));
    await acker.flush();
    expect(statements).toEqual([10, 10, 5]);
    expect(reported).toEqual(ids.map(() => "completed"));
    const [row] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs WHERE id = ANY(${ids}) AND state = 'completed'`;
    expect(row?.n).toBe(25);
  });

  test("backlogged once two batches wait behind the one being stored, not before; clear once stored", async () => {
    const ids = await executing(5);
    const acker = makeAcker({ intervalMs: 0, batchSize: 2 });
    const blocker = await db.sql.reserve();
    try {
      // The first batch waits on this row lock: the database is slow, outcomes pile up.
      await blocker`BEGIN`;
      await blocker`SELECT 1 FROM docket.jobs WHERE id = ${ids[0] as string} FOR UPDATE`;
      const done = (_state: JobState | null) => {};
      acker.push(completion(ids[0] as string), done);
      acker.push(completion(ids[1] as string), done); // a full batch: sent at once
      await lockWaiters(db, null, "the first batch to wait on the row lock");
      expect(acker.size).toBe(0);
      for (const id of ids.slice(2)) acker.push(completion(id), done);
      expect(acker.size).toBe(3);
      expect(acker.backlogged).toBe(false);
      const [extra] = await executing(1);
      acker.push(completion(extra as string), done);
      expect(acker.size).toBe(4);
      expect(acker.backlogged).toBe(true);
      await blocker`COMMIT`;
      await acker.flush();
      expect(acker.size).toBe(0);
      expect(acker.backlogged).toBe(false);
    } finally {
      await blocker`ROLLBACK`;
      blocker.release();
    }
  });
});
