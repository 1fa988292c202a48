// Flow control (docs/flow-control.md) on four docket nodes in one process, one database:
// - "plain" / "global": no-op jobs, each node with a local limit, without limits and then with
//   a global limit equal to the sum of the local limits;
// - "rate": starts per fixed window under a rate limit, against the allowed number;
// - "fairness": one key with thousands of jobs waiting and one with ten, under a partition
//   limit: how many jobs of the big key started before the small key's last one.

import postgres from "postgres";
import { loadDocket } from "../systems/docket.js";
import { checkpoint, pollUntil } from "./checks.js";

/** Which flow trial to run. */
export type FlowVariant = "plain" | "global" | "rate" | "fairness";

/** What one flow trial measured. */
export interface FlowResult {
  variant: FlowVariant;
  /** plain, global: jobs per second from the first start to the last durable completion. */
  jobsPerSec?: number;
  /** global: the most jobs executing at once, sampled from the table. */
  mostExecuting?: number;
  /** rate: the allowed starts per window, the most and the median seen in full windows. */
  allowed?: number;
  mostPerWindow?: number;
  medianPerWindow?: number;
  windows?: number;
  /** fairness: jobs of the big key that started before the small key's last job did. */
  bigStartedBefore?: number;
  /** fairness: milliseconds from the first start to the small key's last start. */
  smallDoneMs?: number;
}

const nodes = 4;

/** The slots of each node, and of all four, for `concurrency` handlers in all (rounded up). */
export function flowSlots(concurrency: number): { local: number; total: number } {
  const local = Math.max(1, Math.ceil(concurrency / nodes));
  return { local, total: local * nodes };
}

export async function runFlow(params: {
  url: string;
  variant: FlowVariant;
  jobs: number;
  concurrency: number;
  /** How long each job of plain and global takes, in milliseconds (0: a no-op). */
  jobMs?: number;
}): Promise<FlowResult> {
  const { url, variant } = params;
  const { defineWorker, Queue } = await loadDocket();
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const starts: { key: string; at: number }[] = [];
  const work = defineWorker<{ i: number; key: string }>({
    name: "bench.flow",
    perform: async (job) => {
      starts.push({ key: job.args.key, at: performance.now() });
      if (params.jobMs) await new Promise((resolve) => setTimeout(resolve, params.jobMs));
    },
  });
  const { local, total } = flowSlots(params.concurrency);
  const limits: Record<string, unknown> = {};
  let jobs = params.jobs;
  let nodeCount = nodes;
  if (params.jobMs) jobs = Math.min(jobs, 2_000);
  if (variant === "global") limits.globalLimit = total;
  if (variant === "rate") {
    limits.rateLimit = { allowed: 200, period: "1s" };
    jobs = 1_200;
  }
  if (variant === "fairness") {
    limits.partition = { limit: local, by: { args: ["key"] } };
    nodeCount = 1;
  }
  const make = () =>
    new Queue({
      connection: url,
      queues: { default: { limit: local, ...limits } },
      workers: [work],
      pollInterval: variant === "rate" ? 0.05 : 1,
    } as never);
  const inserter = make();
  await inserter.migrate();
  if (variant === "fairness") {
    await inserter.insertMany(
      work,
      Array.from({ length: jobs }, (_, i) => ({ i, key: "big" })),
    );
    await inserter.insertMany(
      work,
      Array.from({ length: 10 }, (_, i) => ({ i, key: "small" })),
    );
    jobs += 10;
  } else {
    await inserter.insertMany(
      work,
      Array.from({ length: jobs }, (_, i) => ({ i, key: "k" })),
    );
  }
  await checkpoint(url);
  const workers = Array.from({ length: nodeCount }, make);
  let most = 0;
  let sampling = variant === "global";
  const sampler = (async () => {
    while (sampling) {
      const [row] = await admin<{ n: number }[]>`
        SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'executing'`;
      most = Math.max(most, row?.n ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  await Promise.all(workers.map((w) => w.start()));
  const unfinished = async () => {
    const [row] = await admin<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs WHERE state <> 'completed'`;
    return row?.n ?? 0;
  };
  if (variant === "fairness") {
    await pollUntil(async () => starts.filter((s) => s.key === "small").length === 10, 120_000);
  } else {
    await pollUntil(async () => starts.length >= jobs, 300_000);
  }
  const doneAt = await pollUntil(
    async () => variant === "fairness" || (await unfinished()) === 0,
    120_000,
  );
  sampling = false;
  await sampler;
  await Promise.all(workers.map((w) => w.stop({ grace: 5 })));
  const result: FlowResult = { variant };
  const firstAt = Math.min(...starts.map((s) => s.at));
  if (variant === "plain" || variant === "global") {
    result.jobsPerSec = (jobs / (doneAt - firstAt)) * 1000;
    if (variant === "global") result.mostExecuting = most;
  }
  if (variant === "rate") {
    const windows = await admin<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs
      GROUP BY floor(extract(epoch FROM attempted_at)) ORDER BY floor(extract(epoch FROM attempted_at))`;
    const counts = windows.map((w) => w.n);
    const full = counts.slice(1, -1).sort((a, b) => a - b); // first and last windows are partial
    result.allowed = 200;
    result.mostPerWindow = Math.max(...counts);
    result.medianPerWindow = full[Math.floor(full.length / 2)] ?? 0;
    result.windows = counts.length;
  }
  if (variant === "fairness") {
    const lastSmall = Math.max(...starts.filter((s) => s.key === "small").map((s) => s.at));
    result.bigStartedBefore = starts.filter((s) => s.key === "big" && s.at < lastSmall).length;
    result.smallDoneMs = lastSmall - firstAt;
  }
  await inserter.stop();
  await admin.end();
  return result;
}
