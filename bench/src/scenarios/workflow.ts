// Workflows (docs/workflows.md), docket only: a 10,000-job graph inserted with the workflow
// builder and run, against the same 10,000 jobs inserted with insertMany and run without
// dependencies. The graph: a root, a fan-out of rows, ten fan-ins of a tenth of the rows each,
// a chain after each fan-in, and one summary after the ten chains.

import postgres from "postgres";
import { loadDocket } from "../systems/docket.js";
import { checkpoint, pollUntil } from "./checks.js";

/** Which workflow trial to run. */
export type WorkflowVariant = "graph" | "plain";

/** What one workflow trial measured. */
export interface WorkflowResult {
  variant: WorkflowVariant;
  jobs: number;
  /** Milliseconds to insert all the jobs (one workflow insert, or one insertMany). */
  insertMs: number;
  /** Jobs per second from the first start to the last durable completion. */
  jobsPerSec: number;
  /** Jobs that ran more than once, or never (must be 0). */
  duplicates: number;
  lost: number;
}

const fanIns = 10;

/** The graph's shape for `jobs` jobs: rows, chain length (root + rows + fan-ins + chains + summary). */
export function graphShape(jobs: number): { rows: number; chain: number } {
  const chain = Math.max(1, Math.floor(jobs / 100) - 2); // 98 for 10,000
  const rows = jobs - 1 - fanIns - fanIns * chain - 1;
  if (rows < fanIns) throw new Error(`workflow: ${jobs} jobs are too few for the graph`);
  return { rows, chain };
}

export async function runWorkflow(params: {
  url: string;
  variant: WorkflowVariant;
  jobs: number;
  concurrency: number;
}): Promise<WorkflowResult> {
  const { url, variant, jobs } = params;
  const { defineWorker, Queue } = await loadDocket();
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const runs = new Map<number, number>();
  let firstAt = 0;
  const work = defineWorker<{ i: number }>({
    name: "bench.workflow",
    perform: (job) => {
      if (firstAt === 0) firstAt = performance.now();
      runs.set(job.args.i, (runs.get(job.args.i) ?? 0) + 1);
    },
  });
  const queue = new Queue({
    connection: url,
    queues: { default: params.concurrency },
    workers: [work],
  });
  await queue.migrate();
  await checkpoint(url);
  const insertStart = performance.now();
  if (variant === "plain") {
    await queue.insertMany(
      work,
      Array.from({ length: jobs }, (_, i) => ({ i })),
    );
  } else {
    const { rows, chain } = graphShape(jobs);
    const flow = queue.workflow();
    let i = 0;
    flow.add("root", work, { i: i++ });
    for (let r = 0; r < rows; r++) flow.add(`row-${r}`, work, { i: i++ }, { dependsOn: ["root"] });
    for (let f = 0; f < fanIns; f++) {
      const mine = Array.from({ length: rows }, (_, r) => r).filter((r) => r % fanIns === f);
      flow.add(`fan-in-${f}`, work, { i: i++ }, { dependsOn: mine.map((r) => `row-${r}`) });
      for (let k = 0; k < chain; k++) {
        const before = k === 0 ? `fan-in-${f}` : `chain-${f}-${k - 1}`;
        flow.add(`chain-${f}-${k}`, work, { i: i++ }, { dependsOn: [before] });
      }
    }
    const ends = Array.from({ length: fanIns }, (_, f) => `chain-${f}-${chain - 1}`);
    flow.add("summary", work, { i: i++ }, { dependsOn: ends });
    await flow.insert();
  }
  const insertMs = performance.now() - insertStart;
  await checkpoint(url);
  await queue.start();
  await pollUntil(async () => runs.size >= jobs, 300_000);
  const unfinished = async () => {
    const [row] = await admin<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs WHERE state <> 'completed'`;
    return row?.n ?? 0;
  };
  const doneAt = await pollUntil(async () => (await unfinished()) === 0, 120_000);
  await queue.stop({ grace: 5 });
  await admin.end();
  let duplicates = 0;
  for (const n of runs.values()) if (n > 1) duplicates++;
  return {
    variant,
    jobs,
    insertMs,
    jobsPerSec: (jobs / (doneAt - firstAt)) * 1000,
    duplicates,
    lost: jobs - runs.size,
  };
}
