import postgres from "postgres";
import { defineWorker, Queue } from "docket";
const url = "postgres://postgres@localhost:55432/insx";
const admin = postgres("postgres://postgres@localhost:55432/postgres", { max: 1, onnotice: () => {} });
const w = defineWorker<{ i: number }>({ name: "noop", perform: async () => {} });
for (let round = 0; round < 4; round++) {
  await admin.unsafe("DROP DATABASE IF EXISTS insx");
  await admin.unsafe("CREATE DATABASE insx");
  const q = new Queue({ connection: url, workers: [w], queues: {} });
  await q.migrate();
  const db = postgres(url, { max: 1, onnotice: () => {} });
  await db`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
  await db`SELECT pg_stat_statements_reset()`;
  const args = Array.from({ length: 20000 }, (_, i) => ({ i }));
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await q.insertMany(w, args);
  const wall = performance.now() - t0; const c = process.cpuUsage(c0);
  const st = await db`SELECT calls, total_exec_time AS t, wal_records AS wr FROM pg_stat_statements WHERE query LIKE '%jsonb_to_recordset%' OR query LIKE '%INSERT INTO%jobs%'`;
  console.log(`insert 20000: ${(20000 / wall * 1000).toFixed(0)} jobs/s, wall ${wall.toFixed(0)} ms, client cpu ${((c.user + c.system) / 1000).toFixed(0)} ms, server exec ${st.reduce((a, r) => a + r.t, 0).toFixed(0)} ms (${st.map((r) => r.calls).join("+")} calls, ${st.reduce((a, r) => a + Number(r.wr), 0)} WAL records)`);
  await db.end(); await q.stop();
}
await admin.end();
