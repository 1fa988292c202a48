import { type RawBuilder, sql } from "kysely";
import type { JobsLayout } from "../types.js";
import { type InsertRow, insertChannel, type JobRow } from "./jobs.js";

/**
 * The statements of unique inserts on the `jobs` table. A job's `unique_key` is the SHA-256 of
 * the row's `unique_base` and, with a period, of the time bucket on the database's clock; the
 * partial unique index `jobs_unique_key_idx` keeps one job per key among the jobs whose state is
 * in their `unique_states`.
 */

/** A row of a unique insert. */
/** The fields of an existing job that a conflicting unique insert may overwrite. */
export const replaceableFields = [
  "args",
  "meta",
  "tags",
  "priority",
  "maxAttempts",
  "scheduledAt",
  "queue",
] as const;

/** A field a conflicting insert may overwrite on the existing job (see `replace`). */
export type ReplaceableField = (typeof replaceableFields)[number];

/** Extra columns of a unique row, as the insert statement reads them. */
export interface UniqueColumns {
  /** Hex SHA-256 of the distinguishing fields and the period; the database adds the bucket. */
  unique_base: string;
  unique_period_ms: number | null;
  /** The state bitmask as a bit string, bit 0 (available) first. */
  unique_states: string;
}

export type UniqueInsertRow = InsertRow & UniqueColumns;

/** One row per input row of {@link insertUniqueJobs}: the job, or nulls when it conflicted. */
export type UniqueInsertResult = { input_ord: number; input_key: string } & (
  | JobRow
  | { [K in keyof JobRow]: null }
);

function blocking(schema: string, alias?: string) {
  const column = (name: string) => (alias ? sql.ref(`${alias}.${name}`) : sql.ref(name));
  return sql`${column("unique_key")} IS NOT NULL
    AND ${sql.id(schema, "job_state_in_bitmask")}(${column("unique_states")}, ${column("state")})`;
}

/**
 * Inserts a batch of unique jobs in one statement, skipping every row whose key a blocking job
 * holds (concurrent inserters of one key wait on each other in the unique index, and all but
 * one skip). Returns one row per input row, in input order, with its computed key; the job
 * columns are null for a row that was skipped. Keys must be distinct within the batch.
 */
export function insertUniqueJobs(
  schema: string,
  rows: UniqueInsertRow[],
  layout: JobsLayout = "plain",
) {
  const jobs = sql.id(schema, "jobs");
  const state = sql.id(schema, "job_state");
  const input = sql`
    input AS (
      SELECT x.*,
        coalesce(x.scheduled_at, now() + coalesce(x.schedule_in_ms, 0) * interval '1 millisecond') AS due,
        sha256(convert_to(x.unique_base || ':' || coalesce(
          floor(extract(epoch FROM now()) * 1000 / x.unique_period_ms)::bigint::text, 'forever'), 'UTF8'))
          AS key
      FROM ROWS FROM (jsonb_to_recordset(${rows}::jsonb) AS (
        queue text, worker text, args jsonb, meta jsonb, tags text[], priority smallint,
        max_attempts integer, scheduled_at timestamptz, schedule_in_ms double precision,
        unique_base text, unique_period_ms double precision, unique_states text)
      ) WITH ORDINALITY AS x(queue, worker, args, meta, tags, priority, max_attempts, scheduled_at,
        schedule_in_ms, unique_base, unique_period_ms, unique_states, ord)
    )`;
  const initialState = sql`CASE WHEN due > now() THEN 'scheduled'::${state} ELSE 'available'::${state} END`;
  // Jobs of a queue with limits (flow control) carry a partition key.
  const partitionKey = sql`(SELECT ${sql.id(schema, "flow_partition_key")}(q.flow -> 'by', input.worker, input.args)
         FROM ${sql.id(schema, "queues")} q WHERE q.name = input.queue AND q.flow IS NOT NULL)`;
  const result = sql`
    SELECT input.ord::integer AS input_ord, encode(input.key, 'hex') AS input_key, inserted.*, (
      SELECT count(pg_notify(${insertChannel(schema)}, q.queue))
      FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') q
    ) AS notified
    FROM input LEFT JOIN inserted ON inserted.unique_key = input.key
    ORDER BY input.ord`;
  if (layout === "partitioned") {
    // No unique index can span the partitions: the key is taken in job_unique_keys first, with
    // the job's id drawn here, and the job is inserted only for the keys won. A key whose holder
    // no longer blocks (a table truncated, a trigger bypassed) is taken over.
    const keys = sql.id(schema, "job_unique_keys");
    return sql<UniqueInsertResult>`
      WITH ${input}, drawn AS (
        SELECT input.*, ${initialState} AS initial_state,
          nextval(pg_get_serial_sequence(quote_ident(${schema}::text) || '.jobs', 'id')) AS new_id
        FROM input
      ), won AS (
        INSERT INTO ${keys} AS k (unique_key, job_id)
        SELECT key, new_id FROM drawn
        WHERE ${sql.id(schema, "job_state_in_bitmask")}(unique_states::bit(8), initial_state)
        ORDER BY ord
        ON CONFLICT (unique_key) DO UPDATE SET job_id = excluded.job_id
          WHERE ${sql.id(schema, "job_unique_key_free")}(k.job_id, k.unique_key)
        RETURNING job_id
      ), inserted AS (
        INSERT INTO ${jobs} (id, state, queue, worker, args, meta, tags, priority, max_attempts,
          scheduled_at, unique_key, unique_states, partition_key)
        OVERRIDING SYSTEM VALUE
        SELECT new_id, initial_state, queue, worker, args, meta, tags, priority, max_attempts, due,
          key, unique_states::bit(8), ${partitionKey}
        FROM drawn AS input
        WHERE new_id IN (SELECT job_id FROM won)
          OR NOT ${sql.id(schema, "job_state_in_bitmask")}(unique_states::bit(8), initial_state)
        ORDER BY ord
        RETURNING *
      )
      ${result}`;
  }
  return sql<UniqueInsertResult>`
    WITH ${input}, inserted AS (
      INSERT INTO ${jobs} (state, queue, worker, args, meta, tags, priority, max_attempts, scheduled_at,
        unique_key, unique_states, partition_key)
      SELECT ${initialState}, queue, worker, args, meta, tags, priority, max_attempts, due, key,
        unique_states::bit(8), ${partitionKey}
      FROM input ORDER BY ord
      ON CONFLICT (unique_key) WHERE ${blocking(schema)} DO NOTHING
      RETURNING *
    )
    ${result}`;
}

/** A conflicting row: the key it met and, for `replace`, its values. */
export interface ConflictRow {
  key: string;
  queue: string;
  args: unknown;
  meta: Record<string, unknown>;
  tags: string[];
  priority: number;
  max_attempts: number;
  scheduled_at: string | null;
  schedule_in_ms: number | null;
}

const replaceSql: Record<ReplaceableField, RawBuilder<unknown>> = {
  args: sql`args = e.args`,
  meta: sql`meta = e.meta`,
  tags: sql`tags = e.tags`,
  priority: sql`priority = e.priority`,
  maxAttempts: sql`max_attempts = greatest(e.max_attempts, j.attempt, 1)`,
  queue: sql`queue = e.queue`,
  scheduledAt: sql`scheduled_at = e.due, state = CASE
    WHEN j.state = 'retryable' AND e.due > now() THEN j.state
    WHEN e.due > now() THEN 'scheduled'
    ELSE 'available' END`,
};

/**
 * Finds the jobs that hold the given keys and, when `replace` names fields, overwrites those
 * fields on the ones that have not started yet (available, scheduled, retryable). A key whose
 * job has meanwhile left its blocking states is missing from the result.
 */
export function selectConflicts(
  schema: string,
  rows: ConflictRow[],
  replace: readonly ReplaceableField[],
) {
  const jobs = sql.id(schema, "jobs");
  const input = sql`
    input AS (
      SELECT decode(x.key, 'hex') AS unique_key, x.*,
        coalesce(x.scheduled_at, now() + coalesce(x.schedule_in_ms, 0) * interval '1 millisecond') AS due
      FROM jsonb_to_recordset(${rows}::jsonb) AS x(key text, queue text, args jsonb, meta jsonb,
        tags text[], priority smallint, max_attempts integer, scheduled_at timestamptz,
        schedule_in_ms double precision)
    )`;
  if (replace.length === 0) {
    return sql<JobRow & { input_key: string }>`
      WITH ${input}
      SELECT input.key AS input_key, j.* FROM ${jobs} AS j JOIN input USING (unique_key)
      WHERE ${blocking(schema, "j")}`;
  }
  return sql<JobRow & { input_key: string }>`
    WITH ${input}, existing AS (
      SELECT j.id, input.* FROM ${jobs} AS j JOIN input ON j.unique_key = input.unique_key
      WHERE ${blocking(schema, "j")}
      FOR UPDATE OF j
    ), replaced AS (
      UPDATE ${jobs} AS j SET ${sql.join(replace.map((field) => replaceSql[field]))}
      FROM existing e
      WHERE j.id = e.id AND j.state IN ('available', 'scheduled', 'retryable')
      RETURNING j.*
    )
    SELECT encode(j.unique_key, 'hex') AS input_key, j.*, 0::bigint AS notified
    FROM ${jobs} AS j JOIN existing e ON j.id = e.id
    WHERE j.id NOT IN (SELECT id FROM replaced)
    UNION ALL
    SELECT encode(r.unique_key, 'hex'), r.*, (
      SELECT count(pg_notify(${insertChannel(schema)}, q.queue))
      FROM (SELECT DISTINCT queue FROM replaced WHERE state = 'available') q
    )
    FROM replaced r`;
}
