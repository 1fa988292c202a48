// The cleanup targets of the example app: Distr's six kinds of data. `docket start` and
// `docket cleanup` import this file (docket.toml's `modules`) and register every export made by
// defineCleanupTarget. Retention comes from Distr's variables, read when the module loads:
//
//   LOG_RECORD_ENTRIES_MAX_COUNT=500   STATUS_ENTRIES_MAX_AGE=24h
//   METRICS_ENTRIES_MAX_AGE=24h        CLEANUP_ARTIFACT_BLOB_MIN_AGE=24h
//
// Schedules are not here: they come from docket.toml ([cleanup.<Name>]) or CLEANUP_<NAME>_CRON,
// and a target without one only runs when asked (`docket cleanup <Name>`, a CronJob).
import { defineCleanupTarget, parseDuration } from "docket";
import { blobStorage } from "./blob-storage.js";

const maxLogRecords = Number(process.env.LOG_RECORD_ENTRIES_MAX_COUNT ?? 500);
const statusMaxAge = process.env.STATUS_ENTRIES_MAX_AGE ?? "24h";
const metricsMaxAge = process.env.METRICS_ENTRIES_MAX_AGE ?? "24h";
const blobMinAge = process.env.CLEANUP_ARTIFACT_BLOB_MIN_AGE ?? "24h";
const blobMinAgeMs = parseDuration(blobMinAge);
if (blobMinAgeMs === undefined)
  throw new Error(`CLEANUP_ARTIFACT_BLOB_MIN_AGE: ${blobMinAge} is not a duration`);

/** Deployment log entries: the newest 500 of each deployment are kept. */
export const deploymentLogRecord = defineCleanupTarget({
  name: "DeploymentLogRecord",
  description: `Deployment log entries beyond the newest ${maxLogRecords} of each deployment`,
  table: "deployment_log_record",
  keepLatest: { count: maxLogRecords, partitionBy: "deployment_id", orderBy: "created_at" },
  batchSize: 2000,
});

/** Deployment target log entries: the newest 500 of each deployment target are kept. */
export const deploymentTargetLogRecord = defineCleanupTarget({
  name: "DeploymentTargetLogRecord",
  description: `Deployment target log entries beyond the newest ${maxLogRecords} of each target`,
  table: "deployment_target_log_record",
  keepLatest: { count: maxLogRecords, partitionBy: "deployment_target_id", orderBy: "created_at" },
  batchSize: 2000,
});

/** Deployment revision status entries older than STATUS_ENTRIES_MAX_AGE. */
export const deploymentRevisionStatus = defineCleanupTarget({
  name: "DeploymentRevisionStatus",
  description: `Deployment revision status entries older than ${statusMaxAge}`,
  table: "deployment_revision_status",
  maxAge: { column: "created_at", olderThan: statusMaxAge },
});

/** Deployment target metrics older than METRICS_ENTRIES_MAX_AGE. */
export const deploymentTargetMetrics = defineCleanupTarget({
  name: "DeploymentTargetMetrics",
  description: `Deployment target metrics entries older than ${metricsMaxAge}`,
  table: "deployment_target_metrics",
  maxAge: { column: "created_at", olderThan: metricsMaxAge },
});

/** OIDC login state past its expiry. */
export const oidcState = defineCleanupTarget({
  name: "OIDCState",
  description: "Expired OIDC state entries",
  table: "oidc_state",
  expired: { column: "expires_at" },
});

/**
 * Registry blobs no artifact version references any more, once older than the minimum age (a
 * blob being uploaded is not referenced yet). Each batch deletes the rows and the stored bytes
 * in one transaction: if storage refuses, the rows come back and the next run tries again.
 */
export const artifactBlob = defineCleanupTarget({
  name: "ArtifactBlob",
  description: `Unreferenced registry blobs older than ${blobMinAge}, from the database and object storage`,
  table: "artifact_blob",
  batchSize: 100,
  async run(ctx) {
    let deleted = 0;
    let bytes = 0;
    for (;;) {
      if (ctx.shouldStop()) return { deleted, details: { bytes }, complete: false };
      const batch = await ctx.sql.begin(async (tx) => {
        const rows = await tx`
          DELETE FROM artifact_blob WHERE digest IN (
            SELECT b.digest FROM artifact_blob b
            WHERE b.created_at < now() - ${blobMinAgeMs} * interval '1 millisecond'
              AND NOT EXISTS (SELECT 1 FROM artifact_version_part p WHERE p.blob_digest = b.digest)
            LIMIT ${ctx.batchSize}
            FOR UPDATE SKIP LOCKED)
          RETURNING digest, size_bytes`;
        for (const row of rows) await blobStorage.delete(row.digest);
        return rows;
      });
      deleted += batch.length;
      bytes += batch.reduce((sum, row) => sum + Number(row.size_bytes), 0);
      if (batch.length < ctx.batchSize) return { deleted, details: { bytes } };
    }
  },
});
