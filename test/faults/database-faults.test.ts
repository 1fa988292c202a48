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

/** With FAULT_DEBUG set: job states and who holds executing jobs, once a second. */
async function traceStates(since: number): Promise<void> {
  const counts = await jobCounts(sql).catch(() => ({}));
  const holders = await sql`
    SELECT attempted_by, count(*)::int AS n FROM docket.jobs WHERE state = 'executing' GROUP BY 1`.catch(
    () => [],
  );
  console.log(
    `[trace] +${Date.now() - since} ms ${JSON.stringify(counts)} ${JSON.stringify(holders)}`,
  );
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
    const resumedMs = Date.now() - stoppedAt;
    sql = postgres(server.adminUrl, { max: 3, onnotice: () => {} });
    const trace = process.env.FAULT_DEBUG
      ? setInterval(() => void traceStates(stoppedAt), 1000)
      : undefined;
    await allCompleted(6_000);
    clearInterval(trace);
    const recoveredMs = Date.now() - stoppedAt;
    if (process.env.FAULT_DEBUG)
      for (const n of nodes) console.log(`[trace] ${n.name}:\n${n.output.join("")}`);
    const summaries = await Promise.all(nodes.splice(0).map(stopNode));
    expect(await neverRan(sql)).toBe(0);
    // The outage surfaced as events rather than crashes.
    expect(summaries.reduce((n, s) => n + s.errors + s.ledgerErrors, 0)).toBeGreaterThan(0);
    console.log(
      `[faults] postgres restart: server back after ${resumedMs} ms, all 6000 jobs completed ${recoveredMs} ms after the stop`,
    );
  }, 240_000);

  test("docket's backends terminated, LISTEN included: work resumes and notifications come back", async () => {
    await sql`TRUNCATE docket.jobs, ledger`;
    await insert(4_000);
    // A long poll interval: after the terminations only a working LISTEN makes jobs start fast.
    const pollMs = 60_000;
    const options = { ...fastMaintenance, pollInterval: pollMs / 1000 };
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
    const terminatedAt = Date.now();
    await allCompleted(4_000);
    const completedMs = Date.now() - terminatedAt;
    // A fresh job must start through NOTIFY or the catch-up fetch of a listener that noticed it
    // had lost its subscription, long before the poll would take it.
    // The listener's recovery itself is tested deterministically in listener.test.ts.
    await insert(1);
    const probeAt = Date.now();
    await waitFor(async () => ((await jobCounts(sql)).completed ?? 0) === 4_001, {
      timeoutMs: 45_000,
      what: "a job inserted after the terminations to run",
    }).catch(async (error: Error) => {
      const activity = await sql`
        SELECT pid, state, left(query, 60) AS query FROM pg_stat_activity WHERE application_name = 'docket'`;
      const nodeOutput = nodes
        .map((n) => `${n.name}: ${n.output.join("").slice(-2000)}`)
        .join("\n");
      throw new Error(
        `${error.message}\njobs: ${JSON.stringify(await jobCounts(sql))}\nbackends: ${JSON.stringify(activity)}\n${nodeOutput}`,
      );
    });
    const probeMs = Date.now() - probeAt;
    console.log(
      `[faults] terminate: ${terminated} backends killed, all 4000 jobs completed ${completedMs} ms after, ` +
        `a new job started in ${probeMs} ms`,
    );
    // Through NOTIFY, or the listener's check (every 5 s) and catch-up fetch: well under the poll.
    expect(probeMs).toBeLessThan(pollMs / 3);
    const summaries = await Promise.all(nodes.splice(0).map(stopNode));
    expect(summaries.length).toBe(2);
    expect(await neverRan(sql)).toBe(0);
  }, 240_000);
});
