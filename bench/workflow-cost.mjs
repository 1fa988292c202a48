// Workflows: inserting a 10,000-job graph (one root, 9,999 dependents of it in chunks of 1,000)
// and the time to run it, against the same 10,000 jobs without dependencies.
// Usage: DATABASE_URL=postgres://... node bench/workflow-cost.mjs  (a scratch database: it
// migrates schema "docket_workflow" and drops it at the end)
import postgres from "postgres";
import { defineWorker, Migrator, Queue } from "../packages/docket/dist/index.js";

const url = process.env.DATABASE_URL;
const schema = "docket_workflow";
const total = Number(process.env.WORKFLOW_JOBS ?? 10_000);
const sql = postgres(url, { max: 2, onnotice: () => {} });
let done = 0;
const step = defineWorker({ name: "wf.step", queue: "wf", perform: () => void done++ });

async function trial(withDependencies) {
  await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  await new Migrator(sql, schema).up();
  const queue = new Queue({
    connection: url,
    schema,
    workers: [step],
    queues: { wf: 20 },
  });
  done = 0;
  const insertStarted = performance.now();
  const root = await queue.insert(step, {});
  const rest = Array.from({ length: total - 1 }, () => ({}));
  for (let i = 0; i < rest.length; i += 1000) {
    await queue.insertMany(
      step,
      rest.slice(i, i + 1000),
      withDependencies ? { dependsOn: [root] } : {},
    );
  }
  const insertMs = performance.now() - insertStarted;
  const runStarted = performance.now();
  await queue.start();
  while (done < total) await new Promise((r) => setTimeout(r, 20));
  const runMs = performance.now() - runStarted;
  await queue.stop();
  return {
    withDependencies,
    insertMs: Math.round(insertMs),
    runMs: Math.round(runMs),
    jobsPerS: Math.round(total / (runMs / 1000)),
  };
}

for (let round = 0; round < 2; round++) {
  console.log(JSON.stringify(await trial(false)));
  console.log(JSON.stringify(await trial(true)));
}
await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
await sql.end();
