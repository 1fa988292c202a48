// Fault suite: three nodes work through 20,000 jobs while one of them is killed with SIGKILL
// every few seconds and replaced. Every job must complete, and a job may run twice only when an
// earlier run was on a node that was killed (checked against the ledger of every execution).
import { afterAll, expect, test } from "vitest";
import { Queue } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import {
  fastMaintenance,
  killNode,
  type NodeProcess,
  startNode,
  stopNode,
} from "./support/cluster.js";
import { createLedger, duplicates, jobCounts, neverRan } from "./support/ledger.js";

const db = useTestDatabase();
const total = Number(process.env.FAULT_JOBS ?? 20_000);
const nodes: NodeProcess[] = [];

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
});

test(`${total} jobs on 3 nodes, one SIGKILLed every few seconds: none lost, duplicates only from killed nodes`, async () => {
  await createLedger(db.sql);
  const inserter = new Queue({ connection: db.url, poolSize: 2 });
  await inserter.insertMany(
    "ledger.work",
    Array.from({ length: total }, (_, n) => ({ n })),
    { queue: "faults" },
  );
  await inserter.stop();

  let incarnation = 0;
  const spawn = async () => {
    const node = await startNode(`node-${++incarnation}`, db.url, fastMaintenance, 20);
    nodes.push(node);
    return node;
  };
  const live = [await spawn(), await spawn(), await spawn()];
  const killed = new Set<string>();
  const rescueTimes: number[] = [];
  const pendingRescues: Promise<void>[] = [];

  const done = async () => ((await jobCounts(db.sql)).completed ?? 0) === total;
  const deadline = Date.now() + 240_000;
  while (!(await done()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (await done()) break;
    const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0] as NodeProcess;
    await killNode(victim);
    const killedAt = Date.now();
    killed.add(victim.name);
    const orphans = await db.sql<{ id: string }[]>`
      SELECT id::text FROM docket.jobs WHERE state = 'executing' AND attempted_by = ${victim.name}`;
    const ids = orphans.map((o) => o.id);
    if (ids.length > 0) {
      pendingRescues.push(
        waitFor(
          async () => {
            const [row] = await db.sql<{ n: number }[]>`
              SELECT count(*)::int AS n FROM docket.jobs WHERE id = ANY(${ids}::bigint[]) AND state <> 'completed'`;
            return row?.n === 0;
          },
          {
            timeoutMs: 60_000,
            intervalMs: 100,
            what: `jobs of ${victim.name} to be rescued and completed`,
          },
        ).then(() => {
          rescueTimes.push(Date.now() - killedAt);
        }),
      );
    }
    live.push(await spawn());
  }
  await Promise.all(pendingRescues);
  // A kill that left no orphans checks nothing: at least one must have been rescued.
  expect(rescueTimes.length).toBeGreaterThan(0);
  const summaries = await Promise.all(live.map(stopNode));

  const counts = await jobCounts(db.sql);
  expect(counts).toEqual({ completed: total });
  expect(await neverRan(db.sql)).toBe(0);
  // Every run but the last of a duplicated job happened on a node that was killed mid-job.
  const dups = await duplicates(db.sql);
  const unexplained = dups.filter((d) => d.nodes.slice(0, -1).some((n) => !killed.has(n)));
  expect(unexplained).toEqual([]);
  expect(killed.size).toBeGreaterThan(0);
  for (const summary of summaries) expect(summary.ledgerErrors).toBe(0);
  const heartbeatTimeout = fastMaintenance.heartbeat.timeout * 1000;
  const lifelineInterval = fastMaintenance.lifeline.interval * 1000;
  console.log(
    `[faults] kill-nodes: ${total} jobs, ${killed.size} kills, ${dups.length} duplicates (all from killed nodes), ` +
      `rescue+completion times ms: ${JSON.stringify(rescueTimes)}`,
  );
  // Orphans come back within heartbeat timeout + lifeline interval (3 s here), plus 10 s for the
  // time to run them on a loaded machine.
  for (const ms of rescueTimes)
    expect(ms).toBeLessThan(heartbeatTimeout + lifelineInterval + 10_000);
}, 300_000);
