// How fast the dashboard's pages render on a big jobs table: 1,000,000 jobs (most finished, as a
// busy installation keeps them), timed through the dashboard's own handler. Prints numbers;
// `pnpm --filter docket-bench run dashboard` (BENCH_DASHBOARD_JOBS to change the size).

import { Queue } from "docket";
import { createDashboard } from "docket/dashboard";
import postgres from "postgres";
import { createDatabase, dropDatabase, startBenchServer } from "./postgres-server.js";
import { percentile } from "./stats.js";

const total = Number(process.env.BENCH_DASHBOARD_JOBS ?? 1_000_000);
const runs = 7;

const server = await startBenchServer();
const database = "bench_dashboard";
try {
  const url = await createDatabase(server.adminUrl, database);
  const queue = new Queue({ connection: url, poolSize: 4 });
  await queue.migrate();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const started = performance.now();
  // 90 % completed, the rest spread over the other states, over 8 queues and 20 workers.
  await sql`
    INSERT INTO docket.jobs (queue, worker, state, args, attempt, inserted_at, scheduled_at,
      attempted_at, completed_at, discarded_at, cancelled_at)
    SELECT 'queue_' || (i % 8), 'worker.' || (i % 20), s.state::docket.job_state,
      jsonb_build_object('accountId', i % 1000, 'i', i), 1, t, t, t,
      CASE WHEN s.state = 'completed' THEN t END, CASE WHEN s.state = 'discarded' THEN t END,
      CASE WHEN s.state = 'cancelled' THEN t END
    FROM generate_series(1, ${total}) AS i,
      LATERAL (SELECT now() - (i || ' seconds')::interval AS t) AS times,
      LATERAL (SELECT CASE WHEN i % 10 < 9 THEN 'completed' ELSE
        (ARRAY['available','scheduled','retryable','discarded','cancelled'])[1 + (i / 10) % 5] END AS state) AS s`;
  await sql`VACUUM ANALYZE docket.jobs`;
  console.log(
    `[bench] ${total.toLocaleString("en-US")} jobs inserted and analysed in ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );
  const [{ id } = { id: "1" }] = await sql<
    { id: string }[]
  >`SELECT id::text FROM docket.jobs WHERE state = 'discarded' LIMIT 1`;
  const handler = createDashboard({ queue, cacheTtl: 0 });
  const pages: [string, string][] = [
    ["queues (counts per state, oldest wait)", "/"],
    ["jobs, all states", "/jobs"],
    ["jobs, completed", "/jobs?state=completed"],
    ["jobs, discarded of one worker", "/jobs?state=discarded&worker=worker.3"],
    ["jobs, filter by args value", "/jobs?state=discarded&args=accountId%3D7"],
    ["jobs, second page", "/jobs?state=completed&after=500000"],
    ["job detail", `/jobs/${id}`],
    ["bulk confirm (count)", "/bulk?action=retry&state=discarded"],
    ["nodes", "/nodes"],
  ];
  console.log("\npage                                      median ms   max ms");
  for (const [label, path] of pages) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const response = await handler.fetch(new Request(`http://bench${path}`));
      await response.text();
      if (response.status !== 200) throw new Error(`${path}: status ${response.status}`);
      times.push(performance.now() - t0);
    }
    console.log(
      `${label.padEnd(40)} ${percentile(
        [...times].sort((a, b) => a - b),
        50,
      )
        .toFixed(1)
        .padStart(9)} ${Math.max(...times)
        .toFixed(1)
        .padStart(8)}`,
    );
  }
  const server15 = await server.describe();
  console.log(`\n${server15.version}, ${runs} runs each, statistics fresh, cache off`);
  await sql.end();
  await queue.stop();
} finally {
  await dropDatabase(server.adminUrl, database).catch(() => {});
  await server.stop();
}
