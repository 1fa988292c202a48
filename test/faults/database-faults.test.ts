// Fault suite: the database goes away under load. A PostgreSQL server owned by this file is
// stopped and started again mid-load, and docket's backends are killed with
// pg_terminate_backend (the LISTEN connection among them). Nodes must reconnect and carry on,
// surface the trouble as events, and never crash or lose a job.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Migrator, Queue } from "../../packages/docket/src/index.js";
import { type EmbeddedServer, startEmbeddedServer } from "../support/embedded-server.js";
import { waitFor } from "../support/wait.js";
import { fastMaintenance, type NodeProcess, startNode, stopNode } from "./support/cluster.js";
import { createLedger, jobCounts, neverRan } from "./support/ledger.js";

let server: EmbeddedServer;
let sql: Sql;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  server = await startEmbeddedServer();
  sql = postgres(server.adminUrl, { max: 3, onnotice: () => {} });
  await new Migrator(sql, "docket").up();
  await createLedger(sql);
}, 120_000);

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
  await sql?.end({ timeout: 1 });
  await server?.stop();
});

async function insert(count: number): Promise<void> {
  const queue = new Queue({ connection: server.adminUrl, poolSize: 2 });
  await queue.insertMany(
    "ledger.work",
    Array.from({ length: count }, (_, n) => ({ n })),
    { queue: "faults" },
  );
  await queue.stop();
}

async function allCompleted(total: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(async () => ((await jobCounts(sql)).completed ?? 0) === total, {
    timeoutMs,
    intervalMs: 200,
    what: `${total} jobs to complete`,
  });
}

describe("database faults", () => {
  test("PostgreSQL restarted mid-load: nodes reconnect and finish every job", async () => {
    await insert(6_000);
    nodes.push(await startNode("pg-a", server.adminUrl, fastMaintenance, 3));
    nodes.push(await startNode("pg-b", server.adminUrl, fastMaintenance, 3));
    await waitFor(async () => ((await jobCounts(sql)).completed ?? 0) > 500, { timeoutMs: 60_000 });
    await sql.end({ timeout: 1 });
    const stoppedAt = Date.now();
    await server.pause();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await server.resume();
    sql = postgres(server.adminUrl, { max: 3, onnotice: () => {} });
    await allCompleted(6_000);
    const recoveredMs = Date.now() - stoppedAt;
    const summaries = await Promise.all(nodes.splice(0).map(stopNode));
    expect(await neverRan(sql)).toBe(0);
    // The outage surfaced as events rather than crashes.
    expect(summaries.reduce((n, s) => n + s.errors + s.ledgerErrors, 0)).toBeGreaterThan(0);
    console.log(
      `[faults] postgres restart: all 6000 jobs completed ${recoveredMs} ms after the stop (2 s outage)`,
    );
  }, 240_000);

  test("docket's backends terminated, LISTEN included: work resumes and notifications come back", async () => {
    await sql`TRUNCATE docket.jobs, ledger`;
    await insert(4_000);
    // A long poll interval: after the terminations only a working LISTEN makes jobs start fast.
    const options = { ...fastMaintenance, pollInterval: 30 };
    nodes.push(await startNode("term-a", server.adminUrl, options, 3));
    nodes.push(await startNode("term-b", server.adminUrl, options, 3));
    let terminated = 0;
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      const rows = await sql<{ ok: boolean }[]>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE application_name = 'docket' AND pid <> pg_backend_pid()`;
      terminated += rows.filter((r) => r.ok).length;
    }
    expect(terminated).toBeGreaterThan(0);
    await allCompleted(4_000);
    // Give the listeners a moment to be back, then a fresh job must start through NOTIFY.
    const [listening] = await waitFor(
      async () => {
        const rows = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = 'docket' AND query ILIKE 'listen%'`;
        return (rows[0]?.n ?? 0) >= 2 && rows;
      },
      { timeoutMs: 30_000, what: "both nodes to LISTEN again" },
    );
    expect(listening?.n).toBeGreaterThanOrEqual(2);
    await insert(1);
    await waitFor(async () => ((await jobCounts(sql)).completed ?? 0) === 4_001, {
      timeoutMs: 10_000,
      what: "a job inserted after the terminations to run before the 30 s poll",
    });
    const summaries = await Promise.all(nodes.splice(0).map(stopNode));
    expect(summaries.length).toBe(2);
    expect(await neverRan(sql)).toBe(0);
  }, 240_000);
});
