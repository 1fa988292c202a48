import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Sql, TransactionSql } from "postgres";
import { MigrationError } from "../errors.js";
import type { JobsLayout } from "../types.js";
import { migrationsDir } from "./migrations-dir.js";

export type { JobsLayout };

/** A file of docket's migrations directory (see {@link migrationsDir}). */
function migrationFile(relative: string): string {
  try {
    return readFileSync(join(migrationsDir(), relative), "utf8");
  } catch (error) {
    throw new MigrationError(`docket's migration file ${relative} is missing from the package`, {
      cause: error,
    });
  }
}

/** `flow_claim` as migration 0007 defines it: the layout re-creates it on the new `jobs`. */
function flowClaimDefinition(): string {
  const text = migrationFile("0007_flow_control.up.sql");
  const match = /^CREATE FUNCTION flow_claim\b[\s\S]*?^\$\$;$/m.exec(text);
  if (!match) throw new MigrationError("migration 0007 no longer defines flow_claim");
  return match[0];
}

/**
 * The layout of `schema`'s jobs table, or null when the schema has none (not migrated).
 * A partitioned table whose plain predecessor still holds rows (an online move under way or
 * interrupted) counts as partitioned; {@link legacyRowsLeft} tells whether rows remain.
 */
export async function readLayout(
  sql: Sql | TransactionSql,
  schema: string,
): Promise<JobsLayout | null> {
  const [row] = await sql<{ kind: string | null }[]>`
    SELECT c.relkind::text AS kind FROM pg_class c
    WHERE c.oid = to_regclass(quote_ident(${schema}::text) || '.jobs')`;
  if (!row?.kind) return null;
  return row.kind === "p" ? "partitioned" : "plain";
}

/** Whether `jobs_legacy`, the plain table an online move empties, still exists. */
export async function legacyRowsLeft(sql: Sql | TransactionSql, schema: string): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`
    SELECT to_regclass(quote_ident(${schema}::text) || '.jobs_legacy') IS NOT NULL AS exists`;
  return row?.exists === true;
}

/** How many days back the online move creates day partitions for; older jobs go to the default. */
export const backfillDays = 62;

/**
 * Replaces the plain `jobs` of a schema migrated to the latest migration by the partitioned
 * layout, in the caller's transaction (which must hold docket's migration lock and have the
 * search_path set to the schema). Live jobs (available, scheduled, executing, retryable) move
 * in this transaction, under an ACCESS EXCLUSIVE lock of `jobs` that claims and acks wait for
 * (6.5 µs a row, docs/scaling.md); finished jobs stay in `jobs_legacy` for {@link moveLegacyBatch}.
 * Unique keys held by finished jobs are carried over here, so no duplicate gets in meanwhile.
 *
 * @returns how many live jobs moved.
 */
export async function swapInPartitionedTable(tx: TransactionSql): Promise<number> {
  await tx`LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE`;
  await tx.unsafe(migrationFile("partitioned/set-aside.sql"));
  await tx.unsafe(migrationFile("partitioned/layout.sql"));
  await tx.unsafe(flowClaimDefinition());
  await tx`
    INSERT INTO job_unique_keys (unique_key, job_id)
    SELECT unique_key, id FROM jobs_legacy
    WHERE unique_key IS NOT NULL AND job_state_in_bitmask(unique_states, state)
      AND state IN ('completed', 'discarded', 'cancelled')`;
  const moved = await tx`
    WITH moved AS (
      DELETE FROM jobs_legacy WHERE state IN ('available', 'scheduled', 'executing', 'retryable')
      RETURNING *
    )
    INSERT INTO jobs OVERRIDING SYSTEM VALUE SELECT * FROM moved`;
  // The identity goes on where the plain table's left off.
  await tx`
    SELECT setval(pg_get_serial_sequence('jobs', 'id'), used)
    FROM (SELECT pg_sequence_last_value(pg_get_serial_sequence('jobs_legacy', 'id')::regclass) AS used) s
    WHERE used IS NOT NULL`;
  const [left] = await tx<{ any: boolean }[]>`SELECT EXISTS (SELECT 1 FROM jobs_legacy) AS any`;
  if (!left?.any) await dropLegacy(tx);
  return moved.count;
}

/**
 * Drops the emptied `jobs_legacy`, with its identity sequence, and gives the partitioned table's
 * sequence the plain one's name, `jobs_id_seq` (GRANTs name it, docs/security.md).
 */
async function dropLegacy(tx: TransactionSql): Promise<void> {
  await tx`DROP TABLE jobs_legacy`;
  const [seq] = await tx<{ name: string }[]>`
    SELECT c.relname::text AS name FROM pg_class c
    WHERE c.oid = pg_get_serial_sequence('jobs', 'id')::regclass`;
  if (seq && seq.name !== "jobs_id_seq") {
    await tx`ALTER SEQUENCE ${tx(seq.name)} RENAME TO jobs_id_seq`;
  }
}

/**
 * The first UTC day for which the online move creates day partitions: the oldest finished job's
 * day in `jobs_legacy`, but at most {@link backfillDays} back (older jobs land in the default
 * partitions, where the pruner's DELETE reaches them). Null when nothing is left to move.
 */
export async function legacyFirstDay(tx: Sql | TransactionSql): Promise<string | null> {
  const [row] = await tx<{ day: string | null }[]>`
    SELECT greatest(least(
        (SELECT min(completed_at) FROM jobs_legacy WHERE state = 'completed'),
        (SELECT min(discarded_at) FROM jobs_legacy WHERE state = 'discarded'),
        (SELECT min(cancelled_at) FROM jobs_legacy WHERE state = 'cancelled')) AT TIME ZONE 'UTC',
      (now() AT TIME ZONE 'UTC') - ${backfillDays} * interval '1 day')::date::text AS day`;
  return row?.day ?? null;
}

/**
 * Moves up to `limit` finished jobs from `jobs_legacy` into the partitioned `jobs` (one
 * statement: the rows leave one table and enter the other in the same transaction, so a job is
 * never in both or neither). Drops `jobs_legacy` once it is empty. Returns how many moved.
 */
export async function moveLegacyBatch(tx: TransactionSql, limit: number): Promise<number> {
  const moved = await tx`
    WITH moved AS (
      DELETE FROM jobs_legacy WHERE id = ANY(ARRAY(
        SELECT id FROM jobs_legacy ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED))
      RETURNING *
    )
    INSERT INTO jobs OVERRIDING SYSTEM VALUE SELECT * FROM moved`;
  if (moved.count === 0) {
    const [left] = await tx<{ any: boolean }[]>`SELECT EXISTS (SELECT 1 FROM jobs_legacy) AS any`;
    if (!left?.any) await dropLegacy(tx);
  }
  return moved.count;
}
