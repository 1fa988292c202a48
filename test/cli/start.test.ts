// `docket start` as operators run it: the basic example's config and workers, jobs inserted by
// another process, a graceful stop on SIGTERM and a forced one on a second signal.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import { hasNoStackTrace, runCli, runNode, startCli } from "./cli-process.js";

const db = useTestDatabase();

async function countByState(): Promise<Record<string, number>> {
  const rows = await db.sql<{ state: string; count: number }[]>`
    SELECT state::text, count(*)::int AS count FROM docket.jobs GROUP BY state`;
  return Object.fromEntries(rows.map((r) => [r.state, r.count]));
}

describe("docket start", () => {
  test("runs examples/basic: processes jobs another process inserts, stops cleanly on SIGTERM", {
    timeout: 90_000,
  }, async () => {
    const env = { DOCKET_DATABASE_URL: db.url, DOCKET_NODE: "cli-test-node" };
    const docket = startCli(["start", "--config", "examples/basic/docket.toml", "--json"], { env });
    await docket.waitForStderr(/docket started/);
    expect(docket.stderr).toMatch(
      /loaded 2 worker\(s\) \{"workers":\["math.add","email.welcome"\],"cleanupTargets":\[\]\}/,
    );

    // Another process inserts, as an app would, with the example's own script.
    const enqueue = await runNode(["examples/basic/enqueue.js", "20"], { env });
    expect(enqueue.stderr).toBe("");
    expect(enqueue.stdout).toBe("inserted 21 jobs\n");
    await waitFor(async () => (await countByState()).completed === 21, {
      what: "21 completed jobs",
      timeoutMs: 30_000,
    });
    const [sum] = await db.sql`SELECT meta FROM docket.jobs WHERE worker = 'math.add'`;
    expect(sum?.meta.result).toEqual({ sum: 6 });

    // Slow jobs, some running when SIGTERM comes: they get the grace (10s) to finish.
    await db.sql`
        INSERT INTO docket.jobs (queue, worker, args)
        SELECT 'mailers', 'email.welcome', jsonb_build_object('to', 'slow' || i || '@example.com', 'delayMs', 1500)
        FROM generate_series(1, 5) AS i`;
    await db.sql`NOTIFY docket_jobs, 'mailers'`;
    await waitFor(async () => ((await countByState()).executing ?? 0) > 0, {
      what: "an executing job",
    });
    const executingAtStop = await db.sql<
      { id: string }[]
    >`SELECT id FROM docket.jobs WHERE state = 'executing'`;
    docket.child.kill("SIGTERM");
    const result = await docket.exited;

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/SIGTERM: stopping; running jobs have 10s to finish/);
    expect(hasNoStackTrace(result.stderr)).toBe(true);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ node: "cli-test-node", schema: "docket", signal: "SIGTERM" });
    expect(summary.queues.sort()).toEqual(["default", "mailers"]);
    expect(summary.jobs.completed).toBeGreaterThanOrEqual(21 + executingAtStop.length);

    // Nothing is left executing: the running jobs finished within the grace.
    const states = await countByState();
    expect(states.executing ?? 0).toBe(0);
    const finished = await db.sql<{ state: string }[]>`
        SELECT state::text FROM docket.jobs WHERE id IN ${db.sql(executingAtStop.map((j) => j.id))}`;
    expect(finished.map((j) => j.state)).toEqual(executingAtStop.map(() => "completed"));
  });

  test("a second signal forces the exit while a job ignores its abort signal", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "docket-start-"));
    const module = fileURLToPath(new URL("./fixtures/stubborn-workers.js", import.meta.url));
    const config = join(dir, "docket.toml");
    writeFileSync(
      config,
      [
        `modules = [${JSON.stringify(module)}]`,
        'shutdown_grace = "60s"',
        "[queues]",
        "default = 1",
        "",
      ].join("\n"),
    );
    const docket = startCli(["start", "--config", config], { env: { DATABASE_URL: db.url } });
    await docket.waitForStderr(/docket started/);
    await db.sql`INSERT INTO docket.jobs (queue, worker) VALUES ('default', 'test.stubborn')`;
    await db.sql`NOTIFY docket_jobs, 'default'`;
    await waitFor(async () => ((await countByState()).executing ?? 0) === 1, {
      what: "the stubborn job executing",
    });

    docket.child.kill("SIGTERM");
    await docket.waitForStderr(/SIGTERM: stopping; running jobs have 60s to finish/);
    const forcedAt = Date.now();
    docket.child.kill("SIGINT");
    const result = await docket.exited;
    // The second signal exits at once instead of after the 60 s grace: 10 s is far from both.
    expect(Date.now() - forcedAt).toBeLessThan(10_000);
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/SIGINT again: exiting now/);
    expect(result.stdout).toBe("");
  });

  test("a module that does not exist is a one-line failure", async () => {
    const dir = mkdtempSync(join(tmpdir(), "docket-start-"));
    const config = join(dir, "docket.toml");
    writeFileSync(config, 'modules = ["./dist/workers.js"]\n');
    const result = await runCli(["start", "--config", config], { env: { DATABASE_URL: db.url } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^docket: module .*dist\/workers\.js \(listed in "modules"\) does not exist; build it first\?\n$/,
    );
  });
});
