// Creates the example app's tables (schema.sql) and fills them with data to clean up: more log
// records than are kept, statuses and metrics up to two days old, expired OIDC state, and
// registry blobs with and without references. Run it again to start over.
//
//   node setup.js        (database from DOCKET_DATABASE_URL / DATABASE_URL, or docket.toml)
import { createHash, randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { loadConfig } from "docket";
import postgres from "postgres";
import { blobStorage } from "./blob-storage.js";

const { options } = await loadConfig(fileURLToPath(new URL("./docket.toml", import.meta.url)));
const sql = postgres(options.connection, { max: 2, onnotice: () => {} });

await sql.unsafe(await readFile(new URL("./schema.sql", import.meta.url), "utf8"));
await sql`
  TRUNCATE deployment_log_record, deployment_target_log_record, deployment_revision_status,
    deployment_target_metrics, oidc_state, artifact_version_part, artifact_blob`;
await rm(blobStorage.root, { recursive: true, force: true });

// Log records: three deployments with 700, 500 and 200 records, one a minute.
const deployments = [randomUUID(), randomUUID(), randomUUID()];
for (const [i, count] of [700, 500, 200].entries()) {
  await sql`
    INSERT INTO deployment_log_record (deployment_id, created_at, body)
    SELECT ${deployments[i]}, now() - (n || ' minutes')::interval, 'log line ' || n
    FROM generate_series(1, ${count}) n`;
}
// Deployment target log records: two targets with 650 each.
for (const target of [randomUUID(), randomUUID()]) {
  await sql`
    INSERT INTO deployment_target_log_record (deployment_target_id, created_at, body)
    SELECT ${target}, now() - (n || ' minutes')::interval, 'agent line ' || n
    FROM generate_series(1, 650) n`;
}
// Statuses and metrics: one every 30 minutes over the last 48 hours (47.5h, 47h, … 0.5h old).
await sql`
  INSERT INTO deployment_revision_status (deployment_revision_id, created_at, type, message)
  SELECT ${randomUUID()}, now() - (n * 30 || ' minutes')::interval, 'ok', 'running'
  FROM generate_series(1, 95) n`;
await sql`
  INSERT INTO deployment_target_metrics (deployment_target_id, created_at, cpu_cores_millis, memory_bytes)
  SELECT ${randomUUID()}, now() - (n * 30 || ' minutes')::interval, 250, 512 * 1024 * 1024
  FROM generate_series(1, 95) n`;
// OIDC state: ten expired, five still valid.
await sql`
  INSERT INTO oidc_state (id, created_at, expires_at)
  SELECT gen_random_uuid(), now() - interval '1 hour', now() - interval '50 minutes' FROM generate_series(1, 10)
  UNION ALL
  SELECT gen_random_uuid(), now(), now() + interval '10 minutes' FROM generate_series(1, 5)`;
// Blobs: two old and referenced (kept), two old and unreferenced (deleted), two fresh uploads.
const version = randomUUID();
for (const [n, age, referenced] of [
  [1, "3 days", true],
  [2, "3 days", true],
  [3, "3 days", false],
  [4, "30 hours", false],
  [5, "1 hour", false],
  [6, "1 minute", false],
]) {
  const bytes = Buffer.from(`blob ${n}`);
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  await blobStorage.put(digest, bytes);
  await sql`
    INSERT INTO artifact_blob (digest, size_bytes, created_at)
    VALUES (${digest}, ${bytes.length}, now() - ${age}::interval)`;
  if (referenced) await sql`INSERT INTO artifact_version_part VALUES (${version}, ${digest})`;
}

const counts = await sql`
  SELECT 'deployment_log_record' AS table, count(*)::int AS rows FROM deployment_log_record
  UNION ALL SELECT 'deployment_target_log_record', count(*)::int FROM deployment_target_log_record
  UNION ALL SELECT 'deployment_revision_status', count(*)::int FROM deployment_revision_status
  UNION ALL SELECT 'deployment_target_metrics', count(*)::int FROM deployment_target_metrics
  UNION ALL SELECT 'oidc_state', count(*)::int FROM oidc_state
  UNION ALL SELECT 'artifact_blob', count(*)::int FROM artifact_blob`;
for (const { table, rows } of counts) console.log(`${table.padEnd(30)} ${rows}`);
await sql.end();
