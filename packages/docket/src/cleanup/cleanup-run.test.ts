import type { Sql } from "postgres";
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { ConfigError } from "../errors.js";
import { Queue } from "../queue.js";
import type { CleanupResult } from "./cleanup-run.js";
import { type CleanupTargetOptions, defineCleanupTarget } from "./define-target.js";

const db = useTestDatabase();

const queues: Queue[] = [];
function queueWith(...targets: ReturnType<typeof defineCleanupTarget>[]): Queue {
  const queue = new Queue({ connection: db.url, poolSize: 3, cleanup: targets });
  queues.push(queue);
  return queue;
}

async function runTarget(
  options: CleanupTargetOptions,
  run: { timeout?: string } = {},
): Promise<CleanupResult> {
  const target = defineCleanupTarget(options);
  const queue = queueWith(target);
  try {
    return await queue.runCleanup(target, run);
  } finally {
    await queue.stop();
  }
}

async function ids(sql: Sql, table: string): Promise<number[]> {
  const rows = await sql.unsafe<{ id: number }[]>(`SELECT id FROM ${table} ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

beforeEach(async () => {
  await db.sql`DROP SCHEMA IF EXISTS app CASCADE`;
  await db.sql`CREATE SCHEMA app`;
});

describe("maxAge", () => {
  test("deletes exactly the rows older than the cutoff, in batches, and never the others", async () => {
    await db.sql`CREATE TABLE app.metrics (id serial PRIMARY KEY, created_at timestamptz, value int)`;
    // Ages in hours: 0..47, two rows each, plus rows without a date (never older than anything).
    await db.sql`
      INSERT INTO app.metrics (created_at, value)
      SELECT now() - (h || ' hours')::interval - interval '1 minute', h FROM generate_series(0, 47) h, generate_series(1, 2)`;
    await db.sql`INSERT INTO app.metrics (created_at, value) VALUES (NULL, -1), (NULL, -2)`;
    const result = await runTarget({
      name: "DeploymentTargetMetrics",
      table: "app.metrics",
      maxAge: { column: "created_at", olderThan: "24h" },
      batchSize: 7,
    });
    const left = await db.sql<{ value: number }[]>`SELECT value FROM app.metrics ORDER BY value`;
    // Hours 24..47 are older than 24h (by a minute at least); 0..23 stay, as do undated rows.
    expect(left.map((r) => r.value)).toEqual([
      -2,
      -1,
      ...Array.from({ length: 24 }, (_, h) => [h, h]).flat(),
    ]);
    expect(result).toMatchObject({
      target: "DeploymentTargetMetrics",
      success: true,
      totalDeleted: 48,
      timedOut: false,
      details: { table: "app.metrics", batches: 7 },
    });
    expect(typeof result.details.cutoff).toBe("string");
    expect(result.durationMs).toEqual(expect.any(Number));
  });

  test("works on a table without a primary key (rows picked by ctid)", async () => {
    await db.sql`CREATE TABLE app.revision_status (deployment_id int, created_at timestamp)`;
    await db.sql`
      INSERT INTO app.revision_status
      SELECT i, localtimestamp - (i || ' hours')::interval FROM generate_series(1, 60) i`;
    const result = await runTarget({
      name: "DeploymentRevisionStatus",
      table: "app.revision_status",
      maxAge: { column: "created_at", olderThan: "30h" },
      batchSize: 4,
    });
    const left = await db.sql<
      { id: number }[]
    >`SELECT deployment_id AS id FROM app.revision_status ORDER BY 1`;
    expect(left.map((r) => r.id)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
    expect(result.totalDeleted).toBe(31);
  });
});

describe("expired", () => {
  test("deletes the rows whose expiry has passed and keeps the rest", async () => {
    await db.sql`CREATE TABLE app.oidc_state (id text PRIMARY KEY, expires_at timestamptz)`;
    await db.sql`
      INSERT INTO app.oidc_state VALUES
        ('past-1', now() - interval '1 second'), ('past-2', now() - interval '3 days'),
        ('future-1', now() + interval '10 minutes'), ('future-2', now() + interval '1 day'),
        ('never', NULL)`;
    const result = await runTarget({
      name: "OIDCState",
      table: "app.oidc_state",
      expired: { column: "expires_at" },
    });
    const left = await db.sql<{ id: string }[]>`SELECT id FROM app.oidc_state ORDER BY id`;
    expect(left.map((r) => r.id)).toEqual(["future-1", "future-2", "never"]);
    expect(result).toMatchObject({ success: true, totalDeleted: 2 });
  });
});

describe("keepLatest", () => {
  /** The ids a correct keepLatest keeps: the newest `count` per group, ties by id, undated last. */
  async function expectedKept(count: number): Promise<number[]> {
    const rows = await db.sql<{ id: number }[]>`
      SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY deployment_id ORDER BY created_at DESC NULLS LAST, id DESC) AS n
        FROM app.log_record
      ) x WHERE n <= ${count} ORDER BY id`;
    return rows.map((r) => Number(r.id));
  }

  test("keeps exactly the newest N of each group: ties broken by the key, undated rows first to go", async () => {
    await db.sql`
      CREATE TABLE app.log_record (
        id bigserial PRIMARY KEY, deployment_id uuid, created_at timestamptz, body text)`;
    await db.sql`CREATE INDEX ON app.log_record (deployment_id, created_at)`;
    // Group sizes 130, 50 (exactly N), 20 (under N), 75 with a null group id; random times with
    // many ties (minute resolution over one hour) and a few rows without a time.
    await db.sql`
      INSERT INTO app.log_record (deployment_id, created_at, body)
      SELECT g.id, CASE WHEN i % 17 = 0 THEN NULL
                        ELSE timestamptz '2026-11-01 12:00Z' + (floor(random() * 60) || ' minutes')::interval END,
             'line ' || i
      FROM (VALUES ('00000000-0000-0000-0000-000000000001'::uuid, 130),
                   ('00000000-0000-0000-0000-000000000002'::uuid, 50),
                   ('00000000-0000-0000-0000-000000000003'::uuid, 20),
                   (NULL::uuid, 75)) AS g(id, n),
           generate_series(1, g.n) AS i`;
    const expected = await expectedKept(50);
    const result = await runTarget({
      name: "DeploymentLogRecord",
      table: "app.log_record",
      keepLatest: { count: 50, partitionBy: "deployment_id", orderBy: "created_at" },
      batchSize: 9,
    });
    expect(await ids(db.sql, "app.log_record")).toEqual(expected);
    const perGroup = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM app.log_record GROUP BY deployment_id ORDER BY 1`;
    expect(perGroup.map((r) => r.n)).toEqual([20, 50, 50, 50]);
    expect(result).toMatchObject({
      success: true,
      totalDeleted: 130 - 50 + 75 - 50,
      details: { groups: 2, groupsDone: 2 },
    });
  });

  test("groups by several columns, on a table without a primary key", async () => {
    await db.sql`CREATE TABLE app.target_log (target_id int, stream text, created_at timestamptz)`;
    // Fixed times: measured from now(), a slow run would round the oldest kept row up a second.
    await db.sql`
      INSERT INTO app.target_log
      SELECT t, s, timestamptz '2026-01-01 00:00:00+00' - i * interval '1 second'
      FROM generate_series(1, 3) t, unnest(ARRAY['stdout', 'stderr']) s, generate_series(1, 12) i`;
    const result = await runTarget({
      name: "DeploymentTargetLogRecord",
      table: "app.target_log",
      keepLatest: { count: 5, partitionBy: ["target_id", "stream"], orderBy: "created_at" },
      batchSize: 2,
    });
    const left = await db.sql<{ target_id: number; stream: string; oldest: number; n: number }[]>`
      SELECT target_id, stream, count(*)::int AS n,
        max(extract(epoch FROM timestamptz '2026-01-01 00:00:00+00' - created_at))::int AS oldest
      FROM app.target_log GROUP BY 1, 2 ORDER BY 1, 2`;
    expect(left).toHaveLength(6);
    for (const group of left) expect(group).toMatchObject({ n: 5, oldest: 5 });
    expect(result.totalDeleted).toBe(6 * 7);
  });
});

describe("custom run", () => {
  test("runs with a context, and its deletes and details make the result", async () => {
    await db.sql`CREATE TABLE app.blobs (digest text PRIMARY KEY, created_at timestamptz, referenced boolean)`;
    await db.sql`
      INSERT INTO app.blobs VALUES ('a', now() - interval '2 days', false), ('b', now() - interval '2 days', true),
        ('c', now() - interval '1 hour', false)`;
    const removedFromStorage: string[] = [];
    const result = await runTarget({
      name: "ArtifactBlob",
      table: "app.blobs",
      async run(ctx) {
        expect(ctx.table).toMatchObject({ schema: "app", name: "blobs", key: ["digest"] });
        const doomed = await ctx.sql<{ digest: string }[]>`
          DELETE FROM app.blobs WHERE NOT referenced AND created_at < now() - interval '24 hours'
          RETURNING digest`;
        removedFromStorage.push(...doomed.map((d) => d.digest));
        return { deleted: doomed.length, details: { storage: removedFromStorage } };
      },
    });
    expect(result).toMatchObject({ success: true, totalDeleted: 1, details: { storage: ["a"] } });
    expect(removedFromStorage).toEqual(["a"]);
  });

  test("an error ends the run with the error in the result", async () => {
    const result = await runTarget({
      name: "Broken",
      run: () => {
        throw new Error("storage unreachable");
      },
    });
    expect(result).toMatchObject({ success: false, error: "storage unreachable", totalDeleted: 0 });
  });
});

describe("archive", () => {
  test("moves old rows into tables dated by each row's month (UTC), created like the source", async () => {
    await db.sql`CREATE TABLE app.events (id serial PRIMARY KEY, created_at timestamptz NOT NULL, body jsonb)`;
    await db.sql`
      INSERT INTO app.events (created_at, body) VALUES
        ('2026-09-15 10:00Z', '{"n": 1}'), ('2026-09-30 23:59:59Z', '{"n": 2}'),
        ('2026-10-01 00:00Z', '{"n": 3}'), ('2026-10-20 08:00Z', '{"n": 4}'),
        ('2026-10-31 23:30-02', '{"n": 5}'),
        (now() - interval '1 hour', '{"n": 6}'), (now(), '{"n": 7}')`;
    const result = await runTarget({
      name: "Events",
      table: "app.events",
      maxAge: { column: "created_at", olderThan: "24h" },
      archive: true,
      batchSize: 2,
    });
    const bodies = async (table: string) =>
      (
        await db.sql.unsafe<{ n: number }[]>(
          `SELECT (body->>'n')::int AS n FROM ${table} ORDER BY 1`,
        )
      ).map((r) => r.n);
    expect(await bodies("app.events_archive_2026_09")).toEqual([1, 2]);
    expect(await bodies("app.events_archive_2026_10")).toEqual([3, 4]);
    // 2026-10-31 23:30 at UTC-2 is 2026-11-01 01:30 UTC.
    expect(await bodies("app.events_archive_2026_11")).toEqual([5]);
    expect(await bodies("app.events")).toEqual([6, 7]);
    expect(result).toMatchObject({
      success: true,
      totalDeleted: 5,
      details: {
        archived: {
          events_archive_2026_09: 2,
          events_archive_2026_10: 2,
          events_archive_2026_11: 1,
        },
      },
    });
    // Same columns and types as the source, with the values kept.
    const [row] = await db.sql`SELECT * FROM app.events_archive_2026_10 ORDER BY id LIMIT 1`;
    expect(row).toEqual({ id: 3, created_at: new Date("2026-10-01T00:00:00Z"), body: { n: 3 } });
  });

  test("keepLatest archives the surplus by its orderBy date", async () => {
    await db.sql`CREATE TABLE app.status (id serial PRIMARY KEY, target int, at timestamptz)`;
    await db.sql`
      INSERT INTO app.status (target, at)
      SELECT t, timestamptz '2026-08-30 00:00Z' + (i || ' days')::interval
      FROM generate_series(1, 2) t, generate_series(1, 6) i`;
    const result = await runTarget({
      name: "Status",
      table: "app.status",
      keepLatest: { count: 2, partitionBy: "target", orderBy: "at" },
      archive: { prefix: "status_old", period: "day" },
    });
    const archived = await db.sql<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'app' AND table_name LIKE 'status_old_%' ORDER BY 1`;
    expect(archived.map((t) => t.table_name)).toEqual([
      "status_old_2026_08_31",
      "status_old_2026_09_01",
      "status_old_2026_09_02",
      "status_old_2026_09_03",
    ]);
    const [counts] = await db.sql`SELECT count(*)::int AS n, min(at) AS oldest FROM app.status`;
    expect(counts).toEqual({ n: 4, oldest: new Date("2026-09-04T00:00:00Z") });
    expect(result.totalDeleted).toBe(8);
  });
});

describe("timeout", () => {
  test("stops a large target between batches and reports how far it got", async () => {
    await db.sql`CREATE TABLE app.big (id serial PRIMARY KEY, created_at timestamptz)`;
    await db.sql`INSERT INTO app.big (created_at) SELECT now() - interval '2 days' FROM generate_series(1, 60000)`;
    const result = await runTarget(
      {
        name: "Big",
        table: "app.big",
        maxAge: { column: "created_at", olderThan: "1h" },
        batchSize: 10,
      },
      { timeout: "1s" },
    );
    const [left] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM app.big`;
    expect(result.timedOut).toBe(true);
    expect(result.success).toBe(false);
    expect(result.totalDeleted).toBeGreaterThan(0);
    expect(result.totalDeleted).toBeLessThan(60000);
    // The counts are exact: what it says it deleted is gone, the rest is there.
    expect(left?.n).toBe(60000 - result.totalDeleted);
    expect(result.details.batches).toBe(Math.ceil(result.totalDeleted / 10));
  });
});

describe("checks", () => {
  test("a definition with no strategy, two strategies or no table fails where it is defined", () => {
    expect(() => defineCleanupTarget({ name: "X", table: "t" })).toThrow(
      'cleanup target "X": give one of maxAge, keepLatest, expired or run',
    );
    expect(() =>
      defineCleanupTarget({
        name: "X",
        table: "t",
        expired: { column: "a" },
        maxAge: { column: "a", olderThan: 1 },
      }),
    ).toThrow("give only one of maxAge, keepLatest, expired or run (got maxAge and expired)");
    expect(() => defineCleanupTarget({ name: "X", expired: { column: "a" } })).toThrow(
      'cleanup target "X".table: is required with expired',
    );
    expect(() =>
      defineCleanupTarget({ name: "X", table: "t; DROP TABLE x", expired: { column: "a" } }),
    ).toThrow(ConfigError);
    expect(() =>
      defineCleanupTarget({ name: "X", table: "t", expired: { column: 'a" OR 1=1' } }),
    ).toThrow(/expired.column: must be a plain identifier/);
    expect(() =>
      defineCleanupTarget({
        name: "X",
        table: "t",
        expired: { column: "a" },
        schedule: "61 * * * *",
      }),
    ).toThrow(/schedule: "61 \* \* \* \*" is not a valid cron expression/);
  });

  test("start() checks tables and columns against the catalog and names the target", async () => {
    await db.sql`CREATE TABLE app.things (id int PRIMARY KEY, created_at timestamptz, label text)`;
    const missingTable = queueWith(
      defineCleanupTarget({ name: "Gone", table: "app.nope", expired: { column: "x" } }),
    );
    await expect(missingTable.start()).rejects.toThrow(
      'cleanup.Gone: table "app.nope" does not exist in schema app',
    );
    const badColumns = queueWith(
      defineCleanupTarget({
        name: "Typos",
        table: "app.things",
        maxAge: { column: "created", olderThan: 1 },
      }),
      defineCleanupTarget({
        name: "NotADate",
        table: "app.things",
        keepLatest: { count: 1, partitionBy: "lable", orderBy: "label" },
        archive: true,
      }),
    );
    const error = await badColumns.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'cleanup.Typos: maxAge.column: table app.things has no column "created" (it has id, created_at, label); ' +
        'cleanup.NotADate: keepLatest.partitionBy: table app.things has no column "lable" (it has id, created_at, label); ' +
        'keepLatest.orderBy: column "label" of app.things must be a date or time, but is text',
    );
    await Promise.all(queues.splice(0).map((q) => q.stop()));
  });
});
