// Cost of the lifeline's heartbeat check (run by the leader every heartbeatCheckInterval): the
// rescue statement over a jobs table with many rows, few of them executing. Prints timings.
// Usage: DATABASE_URL=postgres://... node bench/rescue-check-cost.mjs  (a scratch database:
// it migrates schema "docket_cost" and drops it at the end)
import postgres from "postgres";
import { Migrator } from "../packages/docket/dist/index.js";
import { compile } from "../packages/docket/dist/sql/executor.js";
import { rescueJobs } from "../packages/docket/dist/sql/prune-rescue.js";

const sql = postgres(process.env.DATABASE_URL, { max: 2, onnotice: () => {} });
const schema = "docket_cost";
const rows = Number(process.env.COST_ROWS ?? 200_000);
const executing = Number(process.env.COST_EXECUTING ?? 500);
await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
await new Migrator(sql, schema).up();
await sql.unsafe(`
  INSERT INTO ${schema}.jobs (state, queue, worker, args, attempt, attempted_at, attempted_by)
  SELECT CASE WHEN n <= ${executing} THEN 'executing'::${schema}.job_state ELSE 'completed'::${schema}.job_state END,
         'default', 'w', '{}', 1, now(), 'node-' || (n % 10)
  FROM generate_series(1, ${rows}) AS n`);
await sql.unsafe(`
  INSERT INTO ${schema}.producers (node, queue, started_at, heartbeat_at, concurrency)
  SELECT 'node-' || n, 'default', now(), now(), 50 FROM generate_series(0, 9) AS n`);
await sql.unsafe(`ANALYZE ${schema}.jobs`);
const query = compile(
  rescueJobs(schema, {
    trustHeartbeats: true,
    heartbeatsOnly: true,
    heartbeatTimeoutMs: 10_000,
    rescueAfterMs: 300_000,
    limit: 1000,
  }),
);
const times = [];
for (let i = 0; i < 50; i++) {
  const started = performance.now();
  await sql.unsafe(query.sql, query.parameters, { prepare: true });
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const [plan] = await sql.unsafe(
  `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.sql}`,
  query.parameters,
);
const top = plan["QUERY PLAN"][0];
console.log(
  `rescue check, ${rows} jobs (${executing} executing, 10 live producers): median ${times[25].toFixed(2)} ms, ` +
    `p90 ${times[45].toFixed(2)} ms; server execution ${top["Execution Time"].toFixed(2)} ms, ` +
    `shared buffers hit ${top.Plan["Shared Hit Blocks"]}, read ${top.Plan["Shared Read Blocks"]}`,
);
await sql`DROP SCHEMA ${sql(schema)} CASCADE`;
await sql.end();
