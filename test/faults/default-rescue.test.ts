// Fault suite: the README says a crashed node's jobs come back within seconds. This checks it
// with the DEFAULT maintenance settings (heartbeat every 2 s, timeout 10 s, lease 10 s, dead
// producers looked for every 2 s): the leader is SIGKILLed while it runs five jobs, and the
// other node must take over the lease and complete all five within 15 s, while the job it runs
// itself, for longer than the heartbeat timeout, is left alone.
import { afterAll, beforeAll, expect, test } from "vitest";
import { Queue } from "../../packages/docket/src/index.js";
import { type NodeProcess, startNode } from "../maintenance/support.js";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";

const db = useTestDatabase();
const nodes: NodeProcess[] = [];
/** Defaults for everything that decides rescue; only the queue is named. */
const options = { queues: { work: 5 }, pruner: false };
/** What the README promises. */
const promisedMs = 15_000;

beforeAll(async () => {
  await db.sql`CREATE TABLE runs (job_id bigint, node text, attempt int, at timestamptz DEFAULT now())`;
});

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
});

test("with default settings a SIGKILLed leader's jobs run again elsewhere within 15 s", {
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
  const ids = jobs.map((j) => j.id);
  const running = async (node: string, n: number) => {
    const [row] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM runs WHERE node = ${node}`;
    return row?.n === n;
  };
  await waitFor(() => running("node-a", 5), { what: "node-a to run its five jobs" });

  // node-b runs a job of its own for the whole test: it is alive, so it must never be rescued.
  const b = await startNode("node-b", db.url, options);
  nodes.push(b);
  const own = await inserter.insert("maintenance.work", { blockOn: "node-b" }, { queue: "work" });
  await inserter.stop();
  await waitFor(() => running("node-b", 1), { what: "node-b to run its own job" });

  await a.kill();
  const killedAt = Date.now();
  await waitFor(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM docket.jobs WHERE id = ANY(${ids}::bigint[]) AND state = 'completed'`;
      return row?.n === 5;
    },
    { timeoutMs: 45_000, intervalMs: 50, what: "node-a's five jobs to be completed by node-b" },
  );
  const elapsedMs = Date.now() - killedAt;

  // node-b became leader, rescued exactly node-a's jobs, and ran them.
  expect(b.lines.some((l) => l.type === "leader" && l.isLeader)).toBe(true);
  const rescued = b.lines.filter((l) => l.type === "rescue").flatMap((l) => l.ids ?? []);
  expect(rescued.sort()).toEqual([...ids].sort());
  // Its own job has run for longer than the heartbeat timeout by now, and was left alone.
  const [mine] = await db.sql<{ state: string; attempt: number; meta: { rescued?: number } }[]>`
    SELECT state::text, attempt, meta FROM docket.jobs WHERE id = ${own.id}`;
  expect(mine).toMatchObject({ state: "executing", attempt: 1 });
  expect(mine?.meta.rescued).toBeUndefined();

  console.log(
    `[faults] default rescue: SIGKILL of the leader to its 5 jobs completed on the other node: ${elapsedMs} ms (README: ≤ ${promisedMs} ms)`,
  );
  // The README's claim, so its number and not a wider one. With these defaults the lease runs out
  // at most 10 s after the kill (node-b tries again right then), the stale heartbeat is found by
  // the next lifeline run at most 2 s later: 12 s at worst, measured 9.3-11.6 s.
  expect(elapsedMs).toBeLessThan(promisedMs);
  expect(await b.stop()).toBe(0);
});
