import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { cancel, defineWorker, type JobError } from "../index.js";
import type { AckRow } from "../sql/ack.js";
import type { JobState } from "../types.js";
import { maxErrorMessageLength, maxErrorStackLength } from "../validation/storable.js";
import { Acker } from "./acker.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

interface Stored {
  id: string;
  state: JobState;
  attempt: number;
  errors: JobError[];
  meta: Record<string, unknown>;
  later_days: number;
  later_s: number;
}

async function jobs(): Promise<Map<string, Stored>> {
  const rows = await db.sql<Stored[]>`
    SELECT id::text, state, attempt, errors, meta,
      round(extract(epoch FROM scheduled_at - now()) / 86400)::integer AS later_days,
      round(extract(epoch FROM scheduled_at - now()))::float8 AS later_s
    FROM docket.jobs ORDER BY id`;
  return new Map(rows.map((r) => [r.id, r]));
}

const final: JobState[] = ["completed", "discarded", "cancelled"];

/** Waits until every job of `ids` is finished, or retryable no sooner than in 5 s. */
async function settled(ids: string[]): Promise<Stored[]> {
  let last = "";
  try {
    return await waitFor(
      async () => {
        const stored = await jobs();
        const all = ids.map((id) => stored.get(id)).filter((j) => j !== undefined);
        last = all.map((j) => `${j.id}:${j.state}`).join(" ");
        return (
          all.length === ids.length &&
          all.every((j) => final.includes(j.state) || (j.state === "retryable" && j.later_s > 5)) &&
          all
        );
      },
      { what: "every job to have its outcome stored" },
    );
  } catch (error) {
    throw new Error(`${String(error)}; jobs: ${last}`);
  }
}

describe("outcomes PostgreSQL cannot hold as given", () => {
  test("the acker splits a refused batch: the bad outcome is discarded with why, the rest saved", async () => {
    const ids = (
      await db.sql<{ id: string }[]>`
        INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
        SELECT 'executing', 'default', 'w', 1, now(), 'n1' FROM generate_series(1, 12)
        RETURNING id::text`
    ).map((r) => r.id);
    const good = (id: string): AckRow => ({
      id,
      attempt: 1,
      state: "completed",
      delay_ms: null,
      refund: 0,
      error: null,
      meta: { result: { ok: true } },
    });
    const rows = ids.map(good);
    // Built by hand, past the runner's own escaping: a NUL in jsonb, and a delay past the range
    // of PostgreSQL's interval.
    const nul = ids[3] as string;
    const far = ids[8] as string;
    rows[3] = { ...good(nul), meta: { result: "a\u0000b" } };
    rows[8] = { ...good(far), state: "retryable", delay_ms: 1e300 };
    const errors: unknown[] = [];
    const acker = new Acker({
      executor: db.sql,
      schema: "docket",
      node: "n1",
      intervalMs: 1_000,
      batchSize: 100,
      answerWithinMs: 10_000,
      onError: (error) => errors.push(error),
    });
    const reported = new Map<string, JobState | null>();
    const unstored = new Map<string, Error>();
    for (const row of rows)
      acker.push(row, (state, error) => {
        reported.set(row.id, state);
        if (error) unstored.set(row.id, error);
      });
    await acker.flush();

    const stored = await jobs();
    for (const id of ids) {
      if (id === nul || id === far) continue;
      expect(stored.get(id)).toMatchObject({ state: "completed", meta: { result: { ok: true } } });
      expect(reported.get(id)).toBe("completed");
    }
    for (const id of [nul, far]) {
      const job = stored.get(id) as Stored;
      expect(job.state).toBe("discarded");
      expect(reported.get(id)).toBe("discarded");
      expect(unstored.get(id)?.name).toBe("UnstorableOutcomeError");
      expect(job.errors).toHaveLength(1);
      expect(job.errors[0]?.error).toMatch(
        /^UnstorableOutcomeError: .*could not be stored.*SQLSTATE 22/,
      );
    }
    expect([...unstored.keys()].sort()).toEqual([nul, far].sort());
    expect(errors.length).toBeGreaterThan(0);
  });

  test("a NUL or a lone surrogate in an error, a result or a cancel reason is stored escaped", async () => {
    const runs = new Map<string, number>();
    const count = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);
    const good = defineWorker({
      name: "good",
      perform: (job) => {
        count(`good:${job.id}`);
      },
    });
    const nulThrow = defineWorker({
      name: "nul-throw",
      maxAttempts: 1,
      perform: () => {
        count("nul-throw");
        const error = new Error("x\u0000");
        error.stack = "Error: x\u0000\n    at nowhere";
        throw error;
      },
    });
    const surrogate = defineWorker({
      name: "surrogate-result",
      perform: () => {
        count("surrogate-result");
        return { text: "half \ud83d pair", "key\udc00": ["\u0000"] };
      },
    });
    const cancelled = defineWorker({
      name: "nul-cancel",
      perform: () => {
        count("nul-cancel");
        return cancel("why\u0000not");
      },
    });
    const far = defineWorker({
      name: "far-backoff",
      maxAttempts: 2,
      backoff: () => 1e300,
      perform: () => {
        count("far-backoff");
        throw new Error("later");
      },
    });
    const queue = makeQueue({
      queues: { default: 20 },
      heartbeat: { interval: 0.5, timeout: 2 },
      workers: [good, nulThrow, surrogate, cancelled, far],
    });
    const bad = [
      await queue.insert(nulThrow, {}),
      await queue.insert(surrogate, {}),
      await queue.insert(cancelled, {}),
      await queue.insert(far, {}),
    ];
    const goods = await Promise.all(Array.from({ length: 10 }, () => queue.insert(good, {})));
    await queue.start();
    await settled([...bad, ...goods].map((j) => j.id));
    await queue.stop();

    const stored = await jobs();
    for (const job of goods) {
      expect(stored.get(job.id)?.state).toBe("completed");
      expect(runs.get(`good:${job.id}`)).toBe(1);
    }
    const [nulJob, surrogateJob, cancelJob, farJob] = bad.map((j) => stored.get(j.id) as Stored);
    expect(nulJob).toMatchObject({ state: "discarded", attempt: 1 });
    expect(nulJob?.errors[0]?.error).toBe("Error: x\\u0000");
    expect(nulJob?.errors[0]?.stack).toBe("Error: x\\u0000\n    at nowhere");
    expect(surrogateJob).toMatchObject({
      state: "completed",
      meta: { result: { text: "half \ufffd pair", "key\ufffd": ["\\u0000"] } },
    });
    expect(cancelJob?.state).toBe("cancelled");
    expect(cancelJob?.errors[0]?.error).toBe("Error: cancelled: why\\u0000not");
    // Clamped to 100 years, inside PostgreSQL's range.
    expect(farJob).toMatchObject({ state: "retryable", attempt: 1 });
    expect(farJob?.later_days).toBe(36_500);
    for (const name of ["nul-throw", "surrogate-result", "nul-cancel", "far-backoff"])
      expect(runs.get(name)).toBe(1);
  });

  test("long error texts and large results are cut with a marker, not refused", async () => {
    const long = defineWorker({
      name: "long-error",
      maxAttempts: 1,
      perform: () => {
        const error = new Error("m".repeat(100_000));
        error.stack = "s".repeat(100_000);
        throw error;
      },
    });
    const large = defineWorker({
      name: "large-result",
      perform: () => ({ blob: "b".repeat(2_000_000) }),
    });
    const queue = makeQueue({ queues: { default: 2 }, workers: [long, large] });
    const a = await queue.insert(long, {});
    const b = await queue.insert(large, {});
    await queue.start();
    await settled([a.id, b.id]);
    const stored = await jobs();
    const error = stored.get(a.id)?.errors[0] as JobError;
    expect(stored.get(a.id)?.state).toBe("discarded");
    expect(error.error.length).toBeLessThanOrEqual(maxErrorMessageLength);
    expect(error.error).toMatch(/^Error: m+… \[truncated: \d+ more characters\]$/);
    expect(error.stack?.length).toBeLessThanOrEqual(maxErrorStackLength);
    expect(error.stack).toMatch(/\[truncated: \d+ more characters\]$/);
    const result = stored.get(b.id)?.meta.result as {
      truncated: boolean;
      length: number;
      preview: string;
    };
    expect(stored.get(b.id)?.state).toBe("completed");
    const length = JSON.stringify({ blob: "b".repeat(2_000_000) }).length;
    expect(result).toMatchObject({ truncated: true, length });
    expect(result.preview.startsWith('{"blob":"bbb')).toBe(true);
  });
});

describe("a misbehaving worker still ends its attempt", () => {
  test("a thrown value JSON cannot encode is described and stored; attempts advance", async () => {
    const circular: Record<string, unknown> = { name: "loop" };
    circular.self = circular;
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error("no access");
        },
        getPrototypeOf: () => {
          throw new Error("no prototype");
        },
        ownKeys: () => {
          throw new Error("no keys");
        },
      },
    );
    const thrown: Record<string, unknown> = { circular, bigint: { n: 10n }, proxy: hostile };
    const workers = Object.entries(thrown).map(([name, value]) =>
      defineWorker({
        name,
        maxAttempts: 2,
        backoff: () => 0,
        perform: () => {
          throw value;
        },
      }),
    );
    const queue = makeQueue({ queues: { default: 5 }, workers });
    const inserted = await Promise.all(workers.map((w) => queue.insert(w, {})));
    await queue.start();
    await settled(inserted.map((j) => j.id));
    const stored = await jobs();
    for (const job of inserted) {
      const row = stored.get(job.id) as Stored;
      expect(row).toMatchObject({ state: "discarded", attempt: 2 });
      expect(row.errors).toHaveLength(2);
      expect(typeof row.errors[0]?.error).toBe("string");
    }
    expect(stored.get(inserted[1]?.id as string)?.errors[0]?.error).toBe("[object Object]");
  });

  test("a backoff() that throws falls back to the default, says so, and frees its slot", async () => {
    const runs: string[] = [];
    const broken = defineWorker({
      name: "broken-backoff",
      queue: "one",
      maxAttempts: 3,
      backoff: () => {
        throw new TypeError("no backoff today");
      },
      perform: (job) => {
        runs.push(job.id);
        throw new Error("fails");
      },
    });
    const fine = defineWorker({
      name: "fine",
      queue: "one",
      perform: (job) => void runs.push(job.id),
    });
    const queue = makeQueue({
      queues: { one: { limit: 1, prefetch: 0 } },
      workers: [broken, fine],
    });
    const first = await queue.insert(broken, {});
    const behind = await Promise.all(Array.from({ length: 10 }, () => queue.insert(fine, {})));
    await queue.start();
    await settled([first, ...behind].map((j) => j.id));
    await queue.stop();
    const stored = await jobs();
    for (const job of behind) expect(stored.get(job.id)?.state).toBe("completed");
    const failed = stored.get(first.id) as Stored;
    expect(failed.state).toBe("retryable");
    expect(failed.errors[0]?.error).toBe(
      "Error: fails (backoff() threw TypeError: no backoff today; the default backoff was used)",
    );
    expect(runs).toHaveLength(11);
    const ids = [first, ...behind].map((j) => j.id);
    expect(ids.filter((id) => stored.get(id)?.state === "executing")).toEqual([]);
  });
});
