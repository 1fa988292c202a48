// `docket status` against a real database: counts per state, paused queues, leader, producers.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";
import { runCli } from "./cli-process.js";

const db = useTestDatabase();
let config: string;

beforeAll(async () => {
  // The URL comes from the file this time; heartbeat.timeout decides which producers are live.
  config = join(mkdtempSync(join(tmpdir(), "docket-status-")), "docket.toml");
  writeFileSync(config, `database_url = "${db.url}"\n[heartbeat]\ninterval = 5\ntimeout = 60\n`);
  await db.sql`
    INSERT INTO docket.jobs (queue, worker, state)
    SELECT queue, 'w', state::docket.job_state FROM (VALUES
      ('default', 'available'), ('default', 'available'), ('default', 'completed'),
      ('mailers', 'retryable'), ('mailers', 'discarded')
    ) AS v(queue, state)`;
  await db.sql`INSERT INTO docket.queues (name, paused) VALUES ('mailers', true), ('reports', false)`;
  await db.sql`
    UPDATE docket.queues
    SET flow = '{"globalLimit": 3, "rateLimit": {"allowed": 100, "periodMs": 60000, "partitioned": false}}'::jsonb
    WHERE name = 'reports'`;
  await db.sql`
    INSERT INTO docket.leaders (name, node, elected_at, expires_at)
    VALUES ('docket', 'node-a', now(), now() + interval '1 minute')`;
  await db.sql`
    INSERT INTO docket.producers (node, queue, started_at, heartbeat_at, concurrency) VALUES
      ('node-a', 'default', now() - interval '1 hour', now(), 10),
      ('node-gone', 'default', now() - interval '1 hour', now() - interval '10 minutes', 10)`;
});

describe("docket status", () => {
  test("--json gives queues with counts per state, paused flags, the leader and live producers", async () => {
    const result = await runCli(["status", "--config", config, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.schema).toBe("docket");
    expect(report.pendingMigrations).toEqual([]);
    expect(report.missingTables).toEqual([]);
    const byName = Object.fromEntries(report.queues.map((q: { name: string }) => [q.name, q]));
    expect(Object.keys(byName)).toEqual(["default", "mailers", "reports"]);
    expect(byName.default).toEqual({
      name: "default",
      paused: false,
      counts: {
        available: 2,
        scheduled: 0,
        executing: 0,
        retryable: 0,
        completed: 1,
        discarded: 0,
        cancelled: 0,
      },
      limits: null,
    });
    expect(byName.reports.limits).toEqual({
      globalLimit: 3,
      rateLimit: { allowed: 100, period: 60_000 },
    });
    expect(byName.mailers.paused).toBe(true);
    expect(byName.mailers.counts).toMatchObject({ retryable: 1, discarded: 1 });
    expect(report.leaders).toEqual([
      {
        name: "docket",
        node: "node-a",
        electedAt: expect.any(String),
        expiresAt: expect.any(String),
      },
    ]);
    expect(report.producers).toEqual([
      expect.objectContaining({ node: "node-a", queue: "default", concurrency: 10 }),
    ]);
  });

  test("prints tables for people", async () => {
    const result = await runCli(["status", "--config", config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("leader: node-a");
    expect(result.stdout).toMatch(/^QUEUE\s+PAUSED\s+AVAILABLE\s+SCHEDULED\s+EXECUTING/m);
    expect(result.stdout).toMatch(/^mailers\s+yes\s+0\s+0\s+0\s+1\s+0\s+1\s+0\s+-$/m);
    expect(result.stdout).toMatch(/^reports\s+no(\s+0){7}\s+global 3, rate 100\/1m$/m);
    expect(result.stdout).toMatch(/^node-a\s+default\s+10\s+/m);
    expect(result.stdout).not.toContain("node-gone");
  });

  test("a schema that was never migrated is a one-line failure", async () => {
    const result = await runCli(["status", "--config", config], {
      env: { DOCKET_SCHEMA: "never_migrated" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'docket: schema "never_migrated" has no jobs table: run the migrations first (docket migrate)\n',
    );
  });
});
