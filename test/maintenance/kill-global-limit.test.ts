// A node killed with SIGKILL while it holds every slot of a queue's global limit: the slots come
// back when the lifeline rescues its jobs (heartbeat timeout + lifeline interval), not later.
import { afterAll, beforeAll, expect, test } from "vitest";
import { Queue } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import { fastMaintenance, type NodeProcess, startNode } from "./support.js";

const db = useTestDatabase();
const nodes: NodeProcess[] = [];
const options = { ...fastMaintenance, queues: { work: { limit: 5, globalLimit: 3 } } };

beforeAll(async () => {
  await db.sql`CREATE TABLE runs (job_id bigint, node text, attempt int, at timestamptz DEFAULT now())`;
});

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
});

async function count(query: Promise<{ n: number }[]>): Promise<number> {
  const [row] = await query;
  return row?.n ?? 0;
}

test("a killed node's share of a global limit comes back within the rescue time", {
  timeout: 60_000,
}, async () => {
  const a = await startNode("node-a", db.url, options);
  nodes.push(a);
  const inserter = new Queue({ connection: db.url, poolSize: 2 });
  await inserter.insertMany(
    "maintenance.work",
    Array.from({ length: 3 }, () => ({ blockOn: "node-a" })),
    { queue: "work" },
  );
  await waitFor(
    () =>
      count(db.sql`SELECT count(*)::int AS n FROM runs WHERE node = 'node-a'`).then((n) => n === 3),
    {
      what: "node-a to hold all three slots",
    },
  );
  const b = await startNode("node-b", db.url, options);
  nodes.push(b);
  await inserter.insertMany(
    "maintenance.work",
    Array.from({ length: 3 }, () => ({ ms: 1 })),
    { queue: "work" },
  );
  await inserter.stop();
  // node-b is woken by the insert and polls every 0.2 s: over a second (five polls) the global
  // limit leaves it nothing, so the three new jobs stay available.
  const until = Date.now() + 1_000;
  while (Date.now() < until) {
    const rows = await db.sql<{ state: string; attempted_by: string | null; n: number }[]>`
      SELECT state::text, attempted_by, count(*)::int AS n FROM docket.jobs
      GROUP BY 1, 2 ORDER BY 1, 2`;
    expect(rows).toEqual([
      { state: "available", attempted_by: null, n: 3 },
      { state: "executing", attempted_by: "node-a", n: 3 },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await a.kill();
  const killedAt = Date.now();
  await waitFor(
    () =>
      count(db.sql`SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'completed'`).then(
        (n) => n === 6,
      ),
    { timeoutMs: 30_000, intervalMs: 50, what: "node-b to run all six jobs" },
  );
  const elapsedMs = Date.now() - killedAt;
  // Before the rescue node-b ran nothing: node-a's three jobs held the whole limit.
  const [first] = await db.sql<
    { at: Date }[]
  >`SELECT min(at) AS at FROM runs WHERE node = 'node-b'`;
  expect(first?.at.getTime()).toBeGreaterThanOrEqual(killedAt - 1_000);
  expect(await count(db.sql`SELECT count(*)::int AS n FROM runs WHERE node = 'node-b'`)).toBe(6);
  const boundMs = (fastMaintenance.heartbeat.timeout + fastMaintenance.lifeline.interval) * 1000;
  console.log(
    `[flow] SIGKILL to the killed node's global share used elsewhere: ${elapsedMs}ms (bound ${boundMs}ms)`,
  );
  expect(elapsedMs).toBeLessThan(boundMs + 3_000); // slack for a loaded machine
  expect(await b.stop()).toBe(0);
});
