// `docket jobs`, `docket queues`, `docket migrate --sql` and `docket dashboard` against a real
// database, run as the built command the way operators run it.
import postgres from "postgres";
import { beforeEach, describe, expect, test } from "vitest";
import { Migrator } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { hasNoStackTrace, runCli, startCli } from "./cli-process.js";

const db = useTestDatabase();
const env = () => ({ DATABASE_URL: db.url });

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.queues`;
});

async function insertJobs(rows: { worker: string; state: string; accountId: number }[]) {
  const ids: string[] = [];
  for (const row of rows) {
    const [inserted] = await db.sql<{ id: string }[]>`
      INSERT INTO docket.jobs (queue, worker, state, args)
      VALUES ('default', ${row.worker}, ${row.state}::docket.job_state,
        jsonb_build_object('accountId', ${row.accountId}::int))
      RETURNING id::text`;
    ids.push(inserted?.id as string);
  }
  return ids;
}

async function states(): Promise<Record<string, string>> {
  const rows = await db.sql<
    { id: string; state: string }[]
  >`SELECT id::text, state::text FROM docket.jobs`;
  return Object.fromEntries(rows.map((r) => [r.id, r.state]));
}

describe("docket jobs", () => {
  test("list filters like the dashboard and pages with --after", async () => {
    const ids = await insertJobs([
      { worker: "a", state: "discarded", accountId: 1 },
      { worker: "a", state: "discarded", accountId: 2 },
      { worker: "b", state: "discarded", accountId: 1 },
      { worker: "a", state: "discarded", accountId: 1 },
    ]);
    const first = await runCli(
      ["jobs", "list", "--worker", "a", "--args", "accountId=1", "--limit", "1", "--json"],
      { env: env() },
    );
    expect(first.code).toBe(0);
    const page = JSON.parse(first.stdout);
    expect(page.jobs.map((j: { id: string }) => j.id)).toEqual([ids[3]]);
    expect(page.next).toBe(ids[3]);
    const second = await runCli(
      ["jobs", "list", "--worker", "a", "--args", "accountId=1", "--after", page.next],
      { env: env() },
    );
    expect(second.stdout.split("\n")[1]).toMatch(
      new RegExp(`^${ids[0]}\\s+discarded\\s+a\\s+default`),
    );
    expect(second.stdout).not.toContain("more:");
  });

  test("show prints one job; a missing one is a one-line failure", async () => {
    const [id] = await insertJobs([{ worker: "a", state: "available", accountId: 7 }]);
    const shown = await runCli(["jobs", "show", String(id)], { env: env() });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`job ${id}: a on default, available`);
    expect(shown.stdout).toContain('args {"accountId":7}');
    const missing = await runCli(["jobs", "show", "999999"], { env: env() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("docket: no job 999999\n");
  });

  test("retry by filter counts first and acts only with --yes; cancel and delete by id", async () => {
    const ids = await insertJobs([
      { worker: "a", state: "discarded", accountId: 1 },
      { worker: "a", state: "discarded", accountId: 1 },
      { worker: "b", state: "available", accountId: 1 },
      { worker: "b", state: "available", accountId: 2 },
    ]);
    const asked = await runCli(["jobs", "retry", "--state", "discarded"], { env: env() });
    expect(asked.code).toBe(2);
    expect(asked.stderr).toBe("docket: 2 jobs match; add --yes to retry them\n");
    expect(Object.values(await states()).filter((s) => s === "discarded")).toHaveLength(2);
    const retried = await runCli(["jobs", "retry", "--state", "discarded", "--yes", "--json"], {
      env: env(),
    });
    expect(JSON.parse(retried.stdout).retried.sort()).toEqual([ids[0], ids[1]].sort());
    const cancelled = await runCli(["jobs", "cancel", String(ids[2])], { env: env() });
    expect(cancelled.stdout).toBe("cancelled 1 jobs\n");
    const deleted = await runCli(["jobs", "delete", String(ids[3])], { env: env() });
    expect(deleted.stdout).toBe("deleted 1 jobs\n");
    expect(await states()).toEqual({
      [String(ids[0])]: "available",
      [String(ids[1])]: "available",
      [String(ids[2])]: "cancelled",
    });
    const nothing = await runCli(["jobs", "delete"], { env: env() });
    expect(nothing.code).toBe(2);
    expect(hasNoStackTrace(nothing.stderr)).toBe(true);
  });
});

describe("docket queues", () => {
  test("pause, scale and resume are stored for every node", async () => {
    expect((await runCli(["queues", "pause", "mailers"], { env: env() })).stdout).toBe(
      "paused mailers\n",
    );
    expect((await runCli(["queues", "scale", "mailers", "12"], { env: env() })).stdout).toBe(
      "scaled mailers to 12\n",
    );
    expect(await db.sql`SELECT name, paused, concurrency FROM docket.queues`).toEqual([
      { name: "mailers", paused: true, concurrency: 12 },
    ]);
    await runCli(["queues", "resume", "mailers"], { env: env() });
    await runCli(["queues", "scale", "mailers", "default"], { env: env() });
    expect(await db.sql`SELECT name, paused, concurrency FROM docket.queues`).toEqual([
      { name: "mailers", paused: false, concurrency: null },
    ]);
    const bad = await runCli(["queues", "scale", "mailers", "lots"], { env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('docket: limit must be a whole number or "default", got "lots"\n');
  });
});

describe("docket queues limit", () => {
  test("stores flow limits for every node, and clears them", async () => {
    const set = await runCli(
      [
        "queues",
        "limit",
        "exports",
        "--global",
        "3",
        "--rate",
        "100/1m",
        "--rate-by",
        "args.accountId",
        "--partition",
        "1",
        "--by",
        "args.accountId",
      ],
      { env: env() },
    );
    expect(set.stderr).toBe("");
    expect(set.stdout).toBe(
      "exports: global 3, rate 100/1m per args.accountId, 1 per args.accountId\n",
    );
    const status = JSON.parse((await runCli(["status", "--json"], { env: env() })).stdout);
    expect(status.queues.find((q: { name: string }) => q.name === "exports").limits).toEqual({
      globalLimit: 3,
      rateLimit: { allowed: 100, period: 60_000, partition: { by: { args: ["accountId"] } } },
      partition: { limit: 1, by: { args: ["accountId"] } },
    });
    const none = await runCli(["queues", "limit", "exports", "none", "--json"], { env: env() });
    expect(JSON.parse(none.stdout)).toEqual({ queue: "exports", limits: null });
    await runCli(["queues", "limit", "exports", "default"], { env: env() });
    expect(await db.sql`SELECT flow FROM docket.queues WHERE name = 'exports'`).toEqual([
      { flow: null },
    ]);
  });

  test("refuses what it cannot store, with nothing changed", async () => {
    for (const [args, message] of [
      [["--rate", "100"], 'docket: --rate takes <allowed>/<period> like 100/1m, got "100"\n'],
      [["--partition", "2"], "docket: --partition needs --by\n"],
      [
        ["--partition", "2", "--by", "region"],
        'docket: --by takes worker and args.<key>, comma-separated; got "region"\n',
      ],
      [
        [],
        "docket: give --global, --rate or --partition (or `default`; see docket queues limit --help)\n",
      ],
    ] as const) {
      const result = await runCli(["queues", "limit", "exports", ...args], { env: env() });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(message);
    }
    const range = await runCli(["queues", "limit", "exports", "--global", "0"], { env: env() });
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/globalLimit/);
    expect(await db.sql`SELECT flow FROM docket.queues WHERE name = 'exports'`).toEqual([]);
  });
});

describe("docket migrate --sql", () => {
  test("prints the pending SQL; applied by hand, it leaves the schema fully migrated", async () => {
    const result = await runCli(["migrate", "--sql"], {
      env: { ...env(), DOCKET_SCHEMA: "by_hand" },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("-- docket migrations for schema by_hand:");
    expect(await db.sql`SELECT to_regclass('by_hand.jobs') AS t`).toEqual([{ t: null }]);
    // What a DBA would do with it: run the script as it is.
    const admin = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(result.stdout);
      const status = await new Migrator(admin, "by_hand").status();
      expect(status.length).toBeGreaterThan(0);
      expect(status.every((m) => m.applied)).toBe(true);
      const again = await runCli(["migrate", "--sql"], {
        env: { ...env(), DOCKET_SCHEMA: "by_hand" },
      });
      expect(again.stdout).toContain("0 pending");
      expect(again.stdout).not.toContain("BEGIN;");
    } finally {
      await admin.end();
    }
  });

  test("with partitioned = true it says the partitioned layout is not in the script", async () => {
    const result = await runCli(["migrate", "--sql"], {
      env: { ...env(), DOCKET_SCHEMA: "by_hand_partitioned", DOCKET_PARTITIONED: "true" },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("-- docket migrations for schema by_hand_partitioned:");
    expect(result.stdout).toContain(
      "-- partitioned = true: the partitioned layout is not part of this script.",
    );
    expect(result.stdout).toContain("run `docket migrate --partitioned`");
  });
});

describe("docket dashboard", () => {
  test("serves the dashboard behind basic auth, and stops on SIGTERM", async () => {
    await insertJobs([{ worker: "a", state: "available", accountId: 1 }]);
    const cli = startCli(["dashboard", "--port", "0", "--base-path", "/ops"], {
      env: { ...env(), DOCKET_DASHBOARD_BASIC_AUTH: "ops:s3cret" },
    });
    try {
      await cli.waitForStderr(/docket dashboard on http:\/\/127\.0\.0\.1:\d+\/ops\//);
      const url = /on (http:\S+)/.exec(cli.stderr)?.[1] as string;
      expect((await fetch(url)).status).toBe(401);
      const authorization = `Basic ${Buffer.from("ops:s3cret").toString("base64")}`;
      const page = await fetch(`${url}jobs`, { headers: { authorization } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-job="');
    } finally {
      cli.child.kill("SIGTERM");
    }
    const exit = await cli.exited;
    expect(exit.code).toBe(0);
    expect(hasNoStackTrace(exit.stderr)).toBe(true);
  });
});
