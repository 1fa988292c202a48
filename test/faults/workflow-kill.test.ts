// Fault suite: ten workflows of 100 jobs each (a root, a fan-out, chains, fan-ins, each workflow
// a batch with a callback) run on three nodes while one node is SIGKILLed, and replaced, each
// time another tenth of the jobs has completed. Every job must run only after all of its
// dependencies completed (ledger timestamps against the dependencies' completion times), and
// each workflow's callback must be inserted exactly once, after its last job, with the counts.
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
import { createLedger, duplicates, neverRan } from "./support/ledger.js";

const db = useTestDatabase();
const workflows = 10;
const rows = 62;
const chains = 4;
const chainLength = 9;
const perWorkflow = 1 + rows + chains * chainLength + 1; // 100
const total = workflows * perWorkflow;
const nodes: NodeProcess[] = [];

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
});

/** One workflow: root → 62 rows → 4 chains of 9 (each starting from a fan-in of rows) → summary. */
function addWorkflow(queue: Queue, w: number) {
  const step = { queue: "faults" };
  const flow = queue.workflow({
    callback: { worker: "ledger.work", args: { workflow: w }, options: step },
  });
  flow.add("root", "ledger.work", { w, step: "root" }, step);
  for (let r = 0; r < rows; r++) {
    flow.add(`row-${r}`, "ledger.work", { w, step: `row-${r}` }, { ...step, dependsOn: ["root"] });
  }
  for (let c = 0; c < chains; c++) {
    for (let k = 0; k < chainLength; k++) {
      const dependsOn =
        k === 0
          ? Array.from({ length: rows }, (_, r) => r)
              .filter((r) => r % chains === c)
              .map((r) => `row-${r}`)
          : [`chain-${c}-${k - 1}`];
      flow.add(
        `chain-${c}-${k}`,
        "ledger.work",
        { w, step: `chain-${c}-${k}` },
        {
          ...step,
          dependsOn,
        },
      );
    }
  }
  flow.add(
    "summary",
    "ledger.work",
    { w, step: "summary" },
    {
      ...step,
      dependsOn: Array.from({ length: chains }, (_, c) => `chain-${c}-${chainLength - 1}`),
    },
  );
  return flow;
}

async function completedCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'completed'`;
  return row?.n ?? 0;
}

test(`${total} jobs of ${workflows} workflows on 3 nodes, one SIGKILLed every tenth: dependency order kept, each callback once`, async () => {
  await createLedger(db.sql);
  const inserter = new Queue({ connection: db.url, poolSize: 2 });
  for (let w = 0; w < workflows; w++) await addWorkflow(inserter, w).insert();
  await inserter.stop();
  const [inserted] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.jobs`;
  expect(inserted?.n).toBe(total);

  // Few slots and jobs of ~100 ms: the graph takes long enough for every kill to land mid-work.
  const options = { ...fastMaintenance, queues: { faults: 3 } };
  let incarnation = 0;
  const spawn = async () => {
    const node = await startNode(`node-${++incarnation}`, db.url, options, 50);
    nodes.push(node);
    return node;
  };
  const live = [await spawn(), await spawn(), await spawn()];
  const killed = new Set<string>();
  let orphaned = 0;

  // A kill at each tenth of the work: the number of kills does not depend on the machine's speed.
  for (let tenth = 1; tenth <= 9; tenth++) {
    await waitFor(async () => (await completedCount()) >= (tenth * total) / 10, {
      timeoutMs: 60_000,
      intervalMs: 50,
      what: `${tenth * 10}% of the jobs to complete`,
    });
    // The victim is the live node holding the most jobs at this moment.
    const held = await db.sql<{ node: string; n: number }[]>`
      SELECT attempted_by AS node, count(*)::int AS n FROM docket.jobs
      WHERE state = 'executing' GROUP BY 1`;
    const holding = (name: string) => held.find((h) => h.node === name)?.n ?? 0;
    live.sort((a, b) => holding(b.name) - holding(a.name));
    const victim = live.shift() as NodeProcess;
    await killNode(victim);
    killed.add(victim.name);
    orphaned += holding(victim.name);
    live.push(await spawn());
  }
  // Every job and every callback completes.
  await waitFor(async () => (await completedCount()) === total + workflows, {
    timeoutMs: 60_000,
    intervalMs: 100,
    what: "every job and callback to complete",
  });
  const summaries = await Promise.all(live.map(stopNode));
  for (const summary of summaries) expect(summary.ledgerErrors).toBe(0);
  // The kills hit work under way: some jobs were taken from a killed node and run again.
  expect(orphaned).toBeGreaterThan(0);

  expect(await neverRan(db.sql)).toBe(0);
  const dups = await duplicates(db.sql);
  const unexplained = dups.filter((d) => d.nodes.slice(0, -1).some((n) => !killed.has(n)));
  expect(unexplained).toEqual([]);

  // Dependency order: no run of a job started before every dependency had completed.
  const early = await db.sql<{ job: string; dependency: string }[]>`
    SELECT j.id::text AS job, dep.id::text AS dependency
    FROM docket.jobs j CROSS JOIN LATERAL unnest(j.depends_on) AS d(id)
      JOIN docket.jobs dep ON dep.id = d.id
    WHERE dep.completed_at IS NULL
      OR (SELECT min(at) FROM ledger l WHERE l.job_id = j.id) <= dep.completed_at
      OR (SELECT min(at) FROM ledger l WHERE l.job_id = j.id)
        <= (SELECT max(at) FROM ledger l WHERE l.job_id = dep.id)`;
  expect(early).toEqual([]);
  const [links] = await db.sql<{ n: number }[]>`
    SELECT coalesce(sum(cardinality(depends_on)), 0)::int AS n FROM docket.jobs`;
  expect(links?.n).toBe(workflows * (rows + rows + (chainLength - 1) * chains + chains));

  // Each workflow's callback: exactly one, with the counts, started after its last job completed.
  const callbacks = await db.sql<
    { batch: string; n: number; counts: Record<string, unknown>; late: boolean }[]
  >`
    SELECT c.args->'batch'->>'id' AS batch, count(*)::int AS n, (array_agg(c.args->'batch'))[1] AS counts,
      bool_and((SELECT min(at) FROM ledger l WHERE l.job_id = c.id) > (
        SELECT max(j.completed_at) FROM docket.jobs j
        WHERE j.batch_id = (c.args->'batch'->>'id')::bigint)) AS late
    FROM (SELECT id, args FROM docket.jobs WHERE args ? 'batch') c
    GROUP BY 1`;
  expect(callbacks).toHaveLength(workflows);
  for (const callback of callbacks) {
    expect(callback.n).toBe(1);
    expect(callback.late).toBe(true);
    expect(callback.counts).toMatchObject({
      total: perWorkflow,
      completed: perWorkflow,
      pending: 0,
    });
  }
  const [left] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.batches`;
  expect(left?.n).toBe(0);
  console.log(
    `[faults] workflow-kill: ${total} jobs, ${killed.size} kills, ${orphaned} jobs orphaned, ${dups.length} duplicates (all from killed nodes)`,
  );
}, 120_000);
