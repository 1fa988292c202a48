// A node killed with SIGKILL in the middle of its jobs: another node must rescue and complete
// every one of them within (heartbeat timeout + lifeline interval), though rescueAfter is an
// hour: it is the stopped heartbeat that gives the crash away, not the jobs' age.
import { afterAll, beforeAll, expect, test } from "vitest";
import { Queue } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import { fastMaintenance, type NodeProcess, startNode } from "./support.js";

const db = useTestDatabase();
const nodes: NodeProcess[] = [];
const options = { ...fastMaintenance, queues: { work: 5 } };

beforeAll(async () => {
  await db.sql`CREATE TABLE runs (job_id bigint, node text, attempt int, at timestamptz DEFAULT now())`;
});

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
});

test("the jobs of a node killed mid-job are rescued and completed by another node", {
  timeout: 60_000,
}, async () => {
  const a = await startNode("node-a", db.url, options);
  nodes.push(a);
  expect(a.lines.find((l) => l.type === "ready")?.isLeader).toBe(true);

  const inserter = new Queue({ connection: db.url, poolSize: 2 });
  const jobs = await inserter.insertMany(
    "maintenance.work",
    Array.from({ length: 5 }, () => ({ blockOn: "node-a" })),
    { queue: "work", maxAttempts: 3 },
  );
  await inserter.stop();
  const ids = jobs.map((j) => j.id);
  await waitFor(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM runs WHERE node = 'node-a'`;
      return row?.n === 5;
    },
    { what: "node-a to be running all five jobs" },
  );

  const b = await startNode("node-b", db.url, options);
  nodes.push(b);
  await a.kill(); // the leader goes too: node-b must take over before it can rescue
  const killedAt = Date.now();

  await waitFor(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM docket.jobs WHERE id = ANY(${ids}::bigint[]) AND state = 'completed'`;
      return row?.n === 5;
    },
    { timeoutMs: 30_000, intervalMs: 50, what: "the five jobs to be completed by node-b" },
  );
  const elapsedMs = Date.now() - killedAt;

  const rows = await db.sql<
    { id: string; attempt: number; attempted_by: string; meta: { rescued?: number } }[]
  >`
    SELECT id::text, attempt, attempted_by, meta FROM docket.jobs WHERE id = ANY(${ids}::bigint[]) ORDER BY id`;
  for (const row of rows) {
    expect(row).toMatchObject({ attempted_by: "node-b", attempt: 2, meta: { rescued: 1 } });
  }
  const runs = await db.sql<{ node: string; n: number }[]>`
    SELECT node, count(*)::int AS n FROM runs GROUP BY node ORDER BY node`;
  expect(runs).toEqual([
    { node: "node-a", n: 5 },
    { node: "node-b", n: 5 },
  ]);
  expect(b.lines.some((l) => l.type === "leader" && l.isLeader)).toBe(true);
  expect(
    b.lines
      .filter((l) => l.type === "rescue")
      .flatMap((l) => l.ids)
      .sort(),
  ).toEqual([...ids].sort());

  // Bound: the heartbeat goes stale within its timeout, then the next lifeline run finds it.
  const boundMs = (fastMaintenance.heartbeat.timeout + fastMaintenance.lifeline.interval) * 1000;
  console.log(
    `[maintenance] SIGKILL to all jobs completed elsewhere: ${elapsedMs}ms (bound ${boundMs}ms)`,
  );
  expect(elapsedMs).toBeLessThan(boundMs + 3_000); // slack for a loaded machine

  expect(await b.stop()).toBe(0);
});
