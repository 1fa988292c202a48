// `docket migrate` against a real database: apply, status, revert, re-apply.
import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";
import { runCli } from "./cli-process.js";

const db = useTestDatabase();

/** Runs `docket migrate ...` on a schema of the test database, configured by the environment. */
async function migrate(schema: string, ...args: string[]) {
  const result = await runCli(["migrate", ...args], {
    cwd: "/",
    env: { DOCKET_DATABASE_URL: db.url, DOCKET_SCHEMA: schema },
  });
  return result;
}

function json(result: { code: number | null; stdout: string; stderr: string }) {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe("docket migrate", () => {
  test("applies pending migrations, shows status, reverts the last N and re-applies", {
    timeout: 60_000,
  }, async () => {
    const schema = "cli_migrate";
    const before = json(await migrate(schema, "--status", "--json"));
    expect(before.schema).toBe(schema);
    expect(before.migrations.length).toBeGreaterThan(0);
    expect(before.migrations.every((m: { applied: boolean }) => !m.applied)).toBe(true);
    const all = before.migrations.map((m: { version: number; name: string }) => ({
      version: m.version,
      name: m.name,
    }));

    expect(json(await migrate(schema, "--json"))).toEqual({ schema, applied: all });
    const [row] = await db.sql`SELECT count(*)::int AS count FROM cli_migrate.schema_migrations`;
    expect(row?.count).toBe(all.length);

    const again = await migrate(schema);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`schema ${schema} is up to date\n`);

    const newest = all[all.length - 1];
    expect(json(await migrate(schema, "--down", "1", "--json"))).toEqual({
      schema,
      reverted: [newest],
    });
    const status = await migrate(schema, "--status");
    expect(status.code).toBe(0);
    const label = `${String(newest.version).padStart(4, "0")}_${newest.name}`;
    expect(status.stdout).toMatch(new RegExp(`^${label}\\s+pending\\s*$`, "m"));
    expect(status.stdout).toMatch(/^0001_jobs\s+applied\s+\d{4}-/m);

    const reapplied = await migrate(schema);
    expect(reapplied.stdout).toBe(`applied ${label} to schema ${schema}\n`);
  });

  test("--partitioned partitions a table with jobs online; again it has nothing to do", {
    timeout: 60_000,
  }, async () => {
    const schema = "cli_partition";
    json(await migrate(schema, "--json"));
    await db.sql`
      INSERT INTO cli_partition.jobs (state, queue, worker, attempt, completed_at)
      SELECT 'completed', 'q', 'w', 1, now() - interval '1 day' FROM generate_series(1, 50)`;
    await db.sql`INSERT INTO cli_partition.jobs (queue, worker) VALUES ('q', 'w'), ('q', 'w')`;
    expect(json(await migrate(schema, "--partitioned", "--json"))).toEqual({
      schema,
      applied: [],
      layout: "partitioned",
      partition: { swapped: true, liveMoved: 2, finishedMoved: 50 },
    });
    const [kind] = await db.sql`
      SELECT relkind::text FROM pg_class WHERE oid = 'cli_partition.jobs'::regclass`;
    expect(kind?.relkind).toBe("p");
    const again = await migrate(schema, "--partitioned");
    expect(again.stdout).toBe(`schema ${schema} is up to date\n`);
    const down = await migrate(schema, "--down", "1");
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/partitioned jobs table: its migrations cannot be reverted/);
    const mixed = await migrate(schema, "--partitioned", "--status");
    expect(mixed.stderr).toMatch(/--partitioned only goes with a plain docket migrate/);
  });

  test("--status and --down together are refused", async () => {
    const result = await migrate("cli_migrate_refused", "--status", "--down", "1");
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("docket: --status and --down cannot be used together\n");
  });
});
