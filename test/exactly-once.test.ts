import { expect, test } from "vitest";
import { defineWorker, type Queue } from "../packages/docket/src/index.js";
import { useTestDatabase } from "./support/database.js";
import { queueFactory } from "./support/queues.js";
import { waitFor } from "./support/wait.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

test("2,000 jobs raced over by 4 nodes each run exactly once", async () => {
  await db.sql`CREATE TABLE executions (job_id bigint NOT NULL, node text NOT NULL)`;
  const queues: Queue[] = [];
  for (let i = 0; i < 4; i++) {
    const worker = defineWorker({
      name: "counted",
      queue: "race",
      perform: async (job) => {
        await db.sql`INSERT INTO executions VALUES (${job.id}, ${`node-${i}`})`;
      },
    });
    queues.push(
      makeQueue({
        node: `node-${i}`,
        queues: { race: { limit: 5, prefetch: 5 } },
        workers: [worker],
      }),
    );
  }
  const [first] = queues as [Queue];
  await first.insertMany(
    "counted",
    Array.from({ length: 2000 }, (_, n) => ({ n })),
    { queue: "race" },
  );
  await Promise.all(queues.map((q) => q.start()));
  await waitFor(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'completed'`;
      return row?.n === 2000;
    },
    { timeoutMs: 60_000, what: "all 2,000 jobs to complete" },
  );
  const [stats] = await db.sql<{ runs: number; distinct_jobs: number; nodes: number }[]>`
    SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS distinct_jobs, count(DISTINCT node)::int AS nodes
    FROM executions`;
  expect(stats).toEqual({ runs: 2000, distinct_jobs: 2000, nodes: 4 });
});
