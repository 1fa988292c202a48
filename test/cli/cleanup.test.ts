// `docket cleanup` as operators and CronJobs run it: the example app's targets against real
// PostgreSQL, the JSON result, the exit codes, and two runs of one target never working at once.
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import { hasNoStackTrace, runCli, runNode, startCli } from "./cli-process.js";

const db = useTestDatabase();
const example = "examples/cleanup-targets/docket.toml";

describe("the cleanup-targets example", () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    const blobs = mkdtempSync(join(tmpdir(), "docket-blobs-"));
    env = { DOCKET_DATABASE_URL: db.url, BLOB_DIR: blobs };
    const setup = await runNode(["examples/cleanup-targets/setup.js"], { env });
    expect(setup.stderr).toBe("");
    expect(setup.stdout).toContain("deployment_log_record          1400");
    expect((await runCli(["migrate", "--config", example], { env })).code).toBe(0);
  }, 60_000);

  test("docket cleanup DeploymentLogRecord --timeout 10m keeps 500 per deployment and prints the JSON result", async () => {
    const result = await runCli(
      ["cleanup", "DeploymentLogRecord", "--timeout", "10m", "--config", example],
      { env },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed).toMatchObject({
      target: "DeploymentLogRecord",
      success: true,
      totalDeleted: 200,
      timedOut: false,
      details: { table: "public.deployment_log_record", groups: 1, groupsDone: 1 },
    });
    expect(printed.durationMs).toEqual(expect.any(Number));
    const kept = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM deployment_log_record GROUP BY deployment_id ORDER BY 1`;
    expect(kept.map((r) => r.n)).toEqual([200, 500, 500]);
    // The newest ones stay: the oldest record kept is the 500th newest (500 minutes old).
    const [oldest] = await db.sql<{ minutes: number }[]>`
      SELECT round(max(extract(epoch FROM now() - created_at)) / 60)::int AS minutes
      FROM deployment_log_record GROUP BY deployment_id ORDER BY 1 DESC LIMIT 1`;
    expect(oldest?.minutes).toBe(500);
  });

  test("each of the other targets removes exactly its rows; --list names them all", async () => {
    const run = async (target: string) => {
      const result = await runCli(["cleanup", target, "--json", "--config", example], { env });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { success: boolean; totalDeleted: number };
    };
    expect(await run("DeploymentTargetLogRecord")).toMatchObject({
      success: true,
      totalDeleted: 300,
    });
    expect(await run("DeploymentRevisionStatus")).toMatchObject({
      success: true,
      totalDeleted: 48,
    });
    expect(await run("DeploymentTargetMetrics")).toMatchObject({ success: true, totalDeleted: 48 });
    expect(await run("OIDCState")).toMatchObject({ success: true, totalDeleted: 10 });
    expect(await run("ArtifactBlob")).toMatchObject({
      success: true,
      totalDeleted: 2,
      details: { bytes: 12 },
    });
    // The unreferenced old blobs are gone from storage too; the rest stay.
    expect(readdirSync(env.BLOB_DIR as string)).toHaveLength(4);
    const [left] = await db.sql`
      SELECT (SELECT count(*)::int FROM deployment_revision_status) AS statuses,
             (SELECT count(*)::int FROM oidc_state WHERE expires_at < now()) AS expired,
             (SELECT count(*)::int FROM artifact_blob) AS blobs`;
    expect(left).toEqual({ statuses: 47, expired: 0, blobs: 4 });
    // Running again finds nothing to do.
    expect(await run("DeploymentLogRecord")).toMatchObject({ success: true, totalDeleted: 0 });

    const list = await runCli(["cleanup", "--list", "--json", "--config", example], { env });
    expect(list.code).toBe(0);
    const { targets } = JSON.parse(list.stdout) as {
      targets: { name: string; schedule: string | null }[];
    };
    expect(targets.map((t) => t.name)).toEqual([
      "Jobs",
      "JobArchive",
      "DatabaseMaintenance",
      "Producers",
      "DeploymentLogRecord",
      "DeploymentTargetLogRecord",
      "DeploymentRevisionStatus",
      "DeploymentTargetMetrics",
      "OIDCState",
      "ArtifactBlob",
    ]);
    expect(targets.find((t) => t.name === "ArtifactBlob")?.schedule).toBe("30 3 * * *");
    expect(targets.find((t) => t.name === "Jobs")?.schedule).toBeNull();
    const text = await runCli(["cleanup", "--list", "--config", example], {
      env: { ...env, CLEANUP_JOBS_CRON: "*/10 * * * *" },
    });
    expect(text.stdout).toMatch(/^TARGET\s+SCHEDULE\s+QUEUE\s+DESCRIPTION$/m);
    expect(text.stdout).toMatch(/^Jobs\s+\*\/10 \* \* \* \*\s+maintenance\s+Completed, cancelled/m);
    expect(text.stdout).toMatch(
      /^OIDCState\s+0 \* \* \* \*\s+maintenance\s+Expired OIDC state entries$/m,
    );
    // Nine CLI processes one after another: each starts node and connects, seconds under load.
  }, 120_000);

  test("a target no one defined exits 2 and says how to list them", async () => {
    const result = await runCli(["cleanup", "DeploymentLogRecords", "--config", example], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^docket: no cleanup target named DeploymentLogRecords; known targets: Jobs, .* \(docket cleanup --list\)\n$/,
    );
    expect(hasNoStackTrace(result.stderr)).toBe(true);
  });
});

describe("two runs of one target", () => {
  let env: Record<string, string>;
  let config: string;
  beforeAll(async () => {
    await db.sql`CREATE TABLE cleanup_ledger (id serial PRIMARY KEY, pid int, released boolean NOT NULL DEFAULT false)`;
    config = join(mkdtempSync(join(tmpdir(), "docket-cleanup-")), "docket.toml");
    const module = fileURLToPath(new URL("./fixtures/cleanup-targets.js", import.meta.url));
    writeFileSync(config, `modules = [${JSON.stringify(module)}]\n`);
    env = { DOCKET_DATABASE_URL: db.url };
    expect((await runCli(["migrate", "--config", config], { env })).code).toBe(0);
  });

  const runs = async () =>
    db.sql<
      { id: number; released: boolean }[]
    >`SELECT id, released FROM cleanup_ledger ORDER BY id`;

  test("never work at once: the second exits 4 at once, or waits its turn with --wait", async () => {
    const first = startCli(["cleanup", "Held", "--config", config], { env });
    await waitFor(async () => (await runs()).length === 1, { what: "the first run to start" });

    const second = await runCli(["cleanup", "Held", "--json", "--config", config], { env });
    expect(second.code).toBe(4);
    expect(second.stderr).toBe(
      "docket: cleanup target Held is already running elsewhere (its lease is held); not running it twice (use --wait to wait for it)\n",
    );
    expect(JSON.parse(second.stdout)).toEqual({
      error: { code: "CLEANUP_LOCKED", message: expect.any(String) },
    });
    expect(await runs()).toHaveLength(1); // the second never started work

    const waiting = startCli(["cleanup", "Held", "--wait", "60s", "--config", config], { env });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await runs()).toHaveLength(1); // still waiting for the lock

    await db.sql`UPDATE cleanup_ledger SET released = true WHERE id = 1`;
    const firstDone = await first.exited;
    expect(firstDone.code).toBe(0);
    expect(JSON.parse(firstDone.stdout)).toMatchObject({
      target: "Held",
      success: true,
      totalDeleted: 1,
      details: { run: 1 },
    });

    await waitFor(async () => (await runs()).length === 2, { what: "the waiting run to start" });
    await db.sql`UPDATE cleanup_ledger SET released = true WHERE id = 2`;
    const waited = await waiting.exited;
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout)).toMatchObject({ success: true, details: { run: 2 } });
  }, 60_000);

  test("--timeout stops a run between batches: exit 3, and the result says how far it got", async () => {
    const result = await runCli(
      ["cleanup", "Held", "--timeout", "1s", "--json", "--config", config],
      { env },
    );
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({
      target: "Held",
      success: false,
      timedOut: true,
      totalDeleted: 0,
    });
    // The run stops at the first batch boundary after 1 s; under load that can be later.
    expect(result.stderr).toMatch(
      /^docket: cleanup Held timed out after \d+\.\d s with 0 rows removed; run it again to go on\n$/,
    );
  });
});

describe("targets that must never be cleaned", () => {
  let env: Record<string, string>;
  let config: string;
  beforeAll(async () => {
    config = join(mkdtempSync(join(tmpdir(), "docket-cleanup-")), "docket.toml");
    const module = fileURLToPath(new URL("./fixtures/cleanup-targets.js", import.meta.url));
    writeFileSync(config, `modules = [${JSON.stringify(module)}]\n`);
    env = { DOCKET_DATABASE_URL: db.url };
    expect((await runCli(["migrate", "--config", config], { env })).code).toBe(0);
    await db.sql`DROP ROLE IF EXISTS docket_expired_role`;
    await db.sql`CREATE ROLE docket_expired_role VALID UNTIL '2000-01-01'`;
  });

  test('table "pg_authid" is refused, exit non-zero, and no role is deleted', async () => {
    const result = await runCli(["cleanup", "Roles", "--json", "--config", config], { env });
    expect(result.code).not.toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.success).not.toBe(true);
    expect(result.stdout + result.stderr).toContain(
      'cleanup.Roles: table "pg_authid" does not exist on the search path',
    );
    const [role] =
      await db.sql`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'docket_expired_role'`;
    expect(role?.n).toBe(1);
  });

  test("docket's own schema_migrations is refused; migrate still works after", async () => {
    const result = await runCli(["cleanup", "Migrations", "--json", "--config", config], { env });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain("is in docket's own schema docket");
    const [left] = await db.sql`SELECT count(*)::int AS n FROM docket.schema_migrations`;
    expect(left?.n).toBeGreaterThan(0);
    expect((await runCli(["migrate", "--config", config], { env })).code).toBe(0);
  });
});
