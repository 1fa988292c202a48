// A Kysely of the app's own (0.29, as kysely-postgres-js needs), not docket's compiler copy (0.28).

import { PostgresJSDialect } from "kysely-postgres-js";
import { Kysely } from "kysely29";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { ArgsError, defineWorker, InsertError } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const email = defineWorker({
  name: "email.send",
  queue: "mailers",
  args: z.object({ to: z.string().email(), n: z.number().optional() }),
  maxAttempts: 7,
  priority: 3,
  tags: ["email"],
  perform: () => {},
});

async function count(worker = "email.send"): Promise<number> {
  const [row] = await db.sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM docket.jobs WHERE worker = ${worker}`;
  return row?.n ?? 0;
}

/**
 * Runs `body` with a statement-level trigger on `docket.jobs` that counts the INSERT statements
 * run on it (a trigger FOR EACH STATEMENT fires once per statement, whatever its row count).
 */
async function countingInserts<T>(
  body: () => Promise<T>,
): Promise<{ value: T; statements: number }> {
  await db.sql`CREATE TABLE t_insert_statements (at timestamptz DEFAULT clock_timestamp())`;
  await db.sql`
    CREATE FUNCTION t_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO t_insert_statements DEFAULT VALUES;
      RETURN NULL;
    END $$`;
  await db.sql`
    CREATE TRIGGER t_count_insert AFTER INSERT ON docket.jobs
    FOR EACH STATEMENT EXECUTE FUNCTION t_count_insert()`;
  try {
    const value = await body();
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM t_insert_statements`;
    return { value, statements: row?.n ?? 0 };
  } finally {
    await db.sql`DROP TRIGGER t_count_insert ON docket.jobs`;
    await db.sql`DROP FUNCTION t_count_insert()`;
    await db.sql`DROP TABLE t_insert_statements`;
  }
}

describe("insert", () => {
  test("stores the job with the worker's defaults", async () => {
    const queue = makeQueue();
    const job = await queue.insert(email, { to: "a@example.com" });
    expect(job).toMatchObject({
      state: "available",
      queue: "mailers",
      worker: "email.send",
      args: { to: "a@example.com" },
      maxAttempts: 7,
      priority: 3,
      tags: ["email"],
      attempt: 0,
      errors: [],
    });
    expect(job.id).toMatch(/^\d+$/);
    expect(await queue.getJob(job.id)).toEqual(job);
  });

  test("insert options override the worker's defaults", async () => {
    const queue = makeQueue();
    const job = await queue.insert(
      email,
      { to: "b@example.com" },
      { queue: "other", priority: 9, maxAttempts: 1, tags: ["x", "y"], meta: { trace: "t1" } },
    );
    expect(job).toMatchObject({
      queue: "other",
      priority: 9,
      maxAttempts: 1,
      tags: ["x", "y"],
      meta: { trace: "t1" },
    });
  });

  test("scheduleIn and scheduledAt make a scheduled job due later; a past time is available", async () => {
    const queue = makeQueue();
    const [before] = await db.sql<{ now: Date }[]>`SELECT now() AS now`;
    const later = await queue.insert(email, { to: "c@example.com" }, { scheduleIn: "5m" });
    expect(later.state).toBe("scheduled");
    const delta = +later.scheduledAt - +(before?.now ?? 0);
    expect(delta).toBeGreaterThan(290_000);
    expect(delta).toBeLessThan(310_000);
    const at = new Date(Date.now() + 3_600_000);
    const fixed = await queue.insert(email, { to: "d@example.com" }, { scheduledAt: at });
    expect(fixed.state).toBe("scheduled");
    expect(+fixed.scheduledAt).toBe(+at);
    const past = await queue.insert(
      email,
      { to: "e@example.com" },
      { scheduledAt: new Date(Date.now() - 60_000) },
    );
    expect(past.state).toBe("available");
  });

  test("insertMany stores all jobs in order, in one statement", async () => {
    const queue = makeQueue();
    const before = await count();
    const small = await countingInserts(() =>
      queue.insertMany(
        email,
        Array.from({ length: 250 }, (_, n) => ({ to: `u${n}@example.com`, n })),
      ),
    );
    expect(small.statements).toBe(1);
    expect(small.value).toHaveLength(250);
    expect(small.value.map((j) => j.args.n)).toEqual(Array.from({ length: 250 }, (_, n) => n));
    expect(await count()).toBe(before + 250);
    // A larger call takes one statement per chunk of 5,000 jobs.
    const large = await countingInserts(() =>
      queue.insertMany(
        email,
        Array.from({ length: 12_000 }, (_, n) => ({ to: `w${n}@example.com`, n })),
      ),
    );
    expect(large.statements).toBe(3);
    expect(large.value).toHaveLength(12_000);
  });

  test("insertMany returns each job as it is stored", async () => {
    const queue = makeQueue();
    const options = { scheduleIn: "1h", meta: { trace: "t2" }, tags: ["bulk"], priority: 5 };
    const args = Array.from({ length: 12_000 }, (_, n) => ({ to: `v${n}@example.com`, n }));
    const jobs = await queue.insertMany(email, args, options);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(12_000);
    for (const k of [0, 1, 4_999, 5_000, 11_999]) {
      const job = jobs[k];
      expect(job?.args).toEqual(args[k]);
      expect(await queue.getJob(job?.id as string)).toEqual(job);
    }
    // Every job has objects of its own.
    (jobs[0]?.meta as Record<string, unknown>).trace = "changed";
    jobs[0]?.tags.push("changed");
    jobs[0]?.scheduledAt.setTime(0);
    expect(jobs[1]).toMatchObject({ meta: { trace: "t2" }, tags: ["bulk"] });
    expect(+(jobs[1]?.scheduledAt as Date)).toBeGreaterThan(0);
  });

  test("insertMany of more than one chunk is all or nothing", async () => {
    const queue = makeQueue();
    const worker = defineWorker({ name: "chunky", perform: () => {} });
    const jobs = await queue.insertMany(
      worker,
      Array.from({ length: 12_000 }, (_, n) => ({ n })),
    );
    expect(jobs).toHaveLength(12_000);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(12_000);
    expect(await count("chunky")).toBe(12_000);
    expect(await queue.insertMany(worker, [])).toEqual([]);
  });

  test("a streamed insertMany whose last chunk has bad args stores nothing, alone or in a tx", async () => {
    const queue = makeQueue();
    const strict = defineWorker({
      name: "streamed",
      args: z.object({ n: z.number() }),
      perform: () => {},
    });
    const args = [...Array.from({ length: 12_000 }, (_, n) => ({ n })), { n: "last" }];
    await expect(queue.insertMany(strict, args as { n: number }[])).rejects.toThrow(ArgsError);
    expect(await count("streamed")).toBe(0);
    await expect(
      db.sql.begin((tx) => queue.insertMany(strict, args as { n: number }[], { tx })),
    ).rejects.toThrow(ArgsError);
    expect(await count("streamed")).toBe(0);
    // A caller that catches the error and commits its transaction keeps nothing of the call.
    await db.sql.begin(async (tx) => {
      const error = await queue
        .insertMany(strict, args as { n: number }[], { tx })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArgsError);
    });
    expect(await count("streamed")).toBe(0);
    // In a transaction of the caller's the chunks go in order and commit with it.
    const jobs = await db.sql.begin((tx) =>
      queue.insertMany(strict, args.slice(0, 12_000) as { n: number }[], { tx }),
    );
    expect(jobs.map((j) => j.args.n)).toEqual(args.slice(0, 12_000).map((a) => a.n));
    expect(await count("streamed")).toBe(12_000);
  });

  test("one insertMany call takes at most 1,000,000 jobs, refused before any work", async () => {
    const queue = makeQueue();
    const worker = defineWorker({ name: "too.many", perform: () => {} });
    const many = new Array(1_000_001).fill({});
    await expect(queue.insertMany(worker, many)).rejects.toThrow(
      /1000001 jobs in one call, over the limit of 1000000/,
    );
    expect(await count("too.many")).toBe(0);
  });

  test("insertMany whose last chunk fails in the database writes none of the earlier chunks", async () => {
    const queue = makeQueue();
    const worker = defineWorker({ name: "chunky.failing", perform: () => {} });
    // Only the last of three chunks (5 000 rows each) holds the row the database refuses.
    await db.sql`
      ALTER TABLE docket.jobs ADD CONSTRAINT t_refuse_last
      CHECK (worker <> 'chunky.failing' OR (args->>'n')::int <> 11999) NOT VALID`;
    try {
      await expect(
        queue.insertMany(
          worker,
          Array.from({ length: 12_000 }, (_, n) => ({ n })),
        ),
      ).rejects.toThrow(/t_refuse_last/);
    } finally {
      await db.sql`ALTER TABLE docket.jobs DROP CONSTRAINT t_refuse_last`;
    }
    expect(await count("chunky.failing")).toBe(0);
  });

  test("inside a postgres.js transaction: kept on commit, gone on rollback", async () => {
    const queue = makeQueue();
    const before = await count();
    const committed = await db.sql.begin(async (tx) =>
      queue.insert(email, { to: "tx@example.com" }, { tx }),
    );
    expect(await queue.getJob(committed.id)).not.toBeNull();
    let inside: string | undefined;
    await expect(
      db.sql.begin(async (tx) => {
        inside = (await queue.insert(email, { to: "rb@example.com" }, { tx })).id;
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(inside).toBeDefined();
    expect(await queue.getJob(inside as string)).toBeNull();
    expect(await count()).toBe(before + 1);
  });

  test("inside a Kysely transaction: kept on commit, gone on rollback", async () => {
    const queue = makeQueue();
    const kysely = new Kysely<unknown>({ dialect: new PostgresJSDialect({ postgres: db.sql }) });
    const before = await count();
    const job = await kysely
      .transaction()
      .execute((tx) => queue.insert(email, { to: "k@example.com" }, { tx }));
    expect(await queue.getJob(job.id)).not.toBeNull();
    let inside: string | undefined;
    await expect(
      kysely.transaction().execute(async (tx) => {
        inside = (
          await queue.insertMany(email, [{ to: "k1@example.com" }, { to: "k2@example.com" }], {
            tx,
          })
        )[0]?.id;
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await queue.getJob(inside as string)).toBeNull();
    expect(await count()).toBe(before + 1);
  });

  test("args that fail the worker's schema are refused, naming worker and field, and nothing is stored", async () => {
    const queue = makeQueue();
    const before = await count();
    const error = await queue.insert(email, { to: "not an email" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArgsError);
    expect((error as ArgsError).message).toMatch(/worker "email\.send"/);
    expect((error as ArgsError).message).toMatch(/\bto\b/);
    // One bad row in a batch refuses the whole batch.
    await expect(
      queue.insertMany(email, [{ to: "ok@example.com" }, { to: 5 as unknown as string }]),
    ).rejects.toThrow(/\[?to\]?/);
    expect(await count()).toBe(before);
  });

  test("args JSON cannot hold are refused with where the problem is", async () => {
    const queue = makeQueue();
    const loose = defineWorker({ name: "loose", perform: () => {} });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: [unknown, RegExp][] = [
      [{ big: 10n }, /args\.big is a BigInt/],
      [cycle, /args\.self refers back to itself/],
      [{ list: [1, undefined] }, /args\.list\[1\] is undefined/],
      [{ n: Number.NaN }, /args\.n is NaN/],
      [[1, 2], /must be a plain object/],
      [null, /must be a plain object/],
    ];
    for (const [args, message] of cases) {
      await expect(queue.insert(loose, args as Record<string, unknown>)).rejects.toThrow(message);
    }
    expect(await count("loose")).toBe(0);
  });

  test("args over the size limit are refused", async () => {
    const queue = makeQueue({ maxArgsBytes: 1024 });
    await expect(queue.insert("big", { blob: "x".repeat(2000) })).rejects.toThrow(
      /over the limit of 1024.*maxArgsBytes/,
    );
  });

  test("bad insert options name the option", async () => {
    const queue = makeQueue();
    await expect(queue.insert(email, { to: "a@example.com" }, { priority: 10 })).rejects.toThrow(
      InsertError,
    );
    await expect(queue.insert(email, { to: "a@example.com" }, { priority: 10 })).rejects.toThrow(
      /priority/,
    );
    await expect(
      queue.insert(email, { to: "a@example.com" }, { scheduleIn: "soon" }),
    ).rejects.toThrow(/scheduleIn/);
    await expect(
      queue.insert(email, { to: "a@example.com" }, { prority: 1 } as unknown as {
        priority: number;
      }),
    ).rejects.toThrow(/prority: unknown option \(did you mean "priority"\?\)/);
    await expect(queue.insert(email, { to: "a@example.com" }, { queue: "" })).rejects.toThrow(
      /queue/,
    );
  });

  test("a worker name is enough to insert for a worker this node does not run", async () => {
    const queue = makeQueue();
    const job = await queue.insert("reports.build", { id: 1 }, { queue: "reports" });
    expect(job).toMatchObject({ worker: "reports.build", queue: "reports", state: "available" });
  });
});
