import { type RawBuilder, sql } from "kysely";
import type { JobState } from "../types.js";
import { insertChannel, type JobRow } from "./jobs.js";
import { controlChannel } from "./queues.js";

/**
 * The statements of the admin API on the `jobs` table: listing with keyset pagination, and
 * cancel, retry, delete and reschedule of the jobs a filter selects. Each change is one
 * statement that locks its rows, rechecks their state and returns the rows it changed.
 */

/** A filter on jobs, checked and normalised by the admin API. */
export interface JobFilterSql {
  ids?: string[];
  states?: JobState[];
  queues?: string[];
  workers?: string[];
  tags?: string[];
  args?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  insertedBefore?: Date;
  insertedAfter?: Date;
  scheduledBefore?: Date;
  scheduledAfter?: Date;
}

/** Final states: a job in one of them never runs again unless retried. */
const finalStates = sql`('completed', 'discarded', 'cancelled')`;

/**
 * Each state as a constant of the statement's text, so that the planner can match it with the
 * partial index of that state (every state has one: fetch, stage, rescue, prune); a parameter
 * would hide which states are asked for. The texts are fixed here, never taken from input.
 */
export const stateLiterals: Record<JobState, RawBuilder<unknown>> = {
  available: sql`'available'`,
  scheduled: sql`'scheduled'`,
  executing: sql`'executing'`,
  retryable: sql`'retryable'`,
  completed: sql`'completed'`,
  discarded: sql`'discarded'`,
  cancelled: sql`'cancelled'`,
};

function stateCondition(states: JobState[]): RawBuilder<unknown> {
  if (states.length === 0) return sql`FALSE`;
  return sql`(${sql.join(
    states.map((s) => sql`state = ${stateLiterals[s]}`),
    sql` OR `,
  )})`;
}

function conditions(filter: JobFilterSql): RawBuilder<unknown>[] {
  const where: RawBuilder<unknown>[] = [];
  if (filter.ids) where.push(sql`id = ANY(${filter.ids}::bigint[])`);
  if (filter.states) where.push(stateCondition(filter.states));
  if (filter.queues) where.push(sql`queue = ANY(${filter.queues}::text[])`);
  if (filter.workers) where.push(sql`worker = ANY(${filter.workers}::text[])`);
  if (filter.tags) where.push(sql`tags @> ${filter.tags}::text[]`);
  if (filter.args) where.push(sql`args @> ${filter.args}::jsonb`);
  if (filter.meta) where.push(sql`meta @> ${filter.meta}::jsonb`);
  if (filter.insertedBefore) where.push(sql`inserted_at < ${filter.insertedBefore}::timestamptz`);
  if (filter.insertedAfter) where.push(sql`inserted_at > ${filter.insertedAfter}::timestamptz`);
  if (filter.scheduledBefore)
    where.push(sql`scheduled_at < ${filter.scheduledBefore}::timestamptz`);
  if (filter.scheduledAfter) where.push(sql`scheduled_at > ${filter.scheduledAfter}::timestamptz`);
  return where;
}

function whereClause(filter: JobFilterSql, ...more: RawBuilder<unknown>[]) {
  const all = [...conditions(filter), ...more];
  return all.length === 0 ? sql`TRUE` : sql.join(all, sql` AND `);
}

function limitClause(limit: number | undefined) {
  return limit === undefined ? sql`` : sql`LIMIT ${limit}`;
}

/**
 * How many jobs match, reading at most `cap` of them: a result of `cap` means "at least that
 * many", so that counting on a table of millions stays cheap.
 */
export function countJobs(schema: string, filter: JobFilterSql, cap: number) {
  return sql<{ count: number }>`
    SELECT count(*)::integer AS count FROM (
      SELECT 1 FROM ${sql.id(schema, "jobs")} WHERE ${whereClause(filter)} LIMIT ${cap}
    ) AS capped`;
}

/** One page of jobs in id order, after the cursor `after`; `limit` rows at most. */
export function listJobs(
  schema: string,
  filter: JobFilterSql,
  page: { limit: number; after: string | undefined; order: "asc" | "desc" },
) {
  const desc = page.order === "desc";
  const cursor =
    page.after === undefined
      ? []
      : [desc ? sql`id < ${page.after}::bigint` : sql`id > ${page.after}::bigint`];
  return sql<JobRow>`
    SELECT * FROM ${sql.id(schema, "jobs")}
    WHERE ${whereClause(filter, ...cursor)}
    ORDER BY id ${desc ? sql`DESC` : sql`ASC`}
    LIMIT ${page.limit}`;
}

/**
 * Cancels the selected jobs that have not finished, and announces on the control channel the
 * ids of those that were executing, so that the nodes running them abort their signals. The
 * announcement goes out on commit, in chunks that fit a NOTIFY payload.
 */
export function cancelJobs(schema: string, filter: JobFilterSql, limit?: number) {
  const jobs = sql.id(schema, "jobs");
  return sql<JobRow & { previous_state: JobState }>`
    WITH target AS (
      SELECT id, state AS previous_state FROM ${jobs}
      WHERE ${whereClause(filter, sql`state NOT IN ${finalStates}`)}
      ORDER BY id ${limitClause(limit)}
      FOR UPDATE
    ), cancelled AS (
      UPDATE ${jobs} AS j SET state = 'cancelled', cancelled_at = now()
      FROM target t WHERE j.id = t.id
      RETURNING j.*, t.previous_state
    ), announced AS (
      SELECT count(pg_notify(${controlChannel(schema)},
        json_build_object('action', 'cancel', 'ids', ids)::text)) AS notified
      FROM (
        SELECT array_agg(id::text) AS ids
        FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 250 AS chunk
              FROM cancelled WHERE previous_state = 'executing') e
        GROUP BY chunk
      ) chunks
    )
    SELECT cancelled.*, (SELECT notified FROM announced) AS notified
    FROM cancelled ORDER BY id`;
}

/**
 * Makes the selected jobs available now: those waiting (scheduled, retryable) and those
 * finished (completed, discarded, cancelled). A retried job gets one more attempt if it had used
 * them all up. A unique job whose key another job now holds is left alone, as is all but the
 * newest of several selected jobs sharing a key.
 */
export function retryJobs(schema: string, filter: JobFilterSql, limit?: number) {
  const jobs = sql.id(schema, "jobs");
  const inBitmask = sql.id(schema, "job_state_in_bitmask");
  return sql<JobRow>`
    WITH target AS (
      SELECT id, unique_key FROM ${jobs}
      WHERE ${whereClause(filter, sql`state IN ('scheduled', 'retryable', 'completed', 'discarded', 'cancelled')`)}
      ORDER BY id ${limitClause(limit)}
      FOR UPDATE
    ), chosen AS (
      SELECT DISTINCT ON (coalesce(unique_key, int8send(id))) id
      FROM target ORDER BY coalesce(unique_key, int8send(id)), id DESC
    ), retried AS (
      UPDATE ${jobs} AS j SET
        state = 'available',
        scheduled_at = now(),
        max_attempts = greatest(j.max_attempts, j.attempt + 1),
        completed_at = NULL,
        cancelled_at = NULL,
        discarded_at = NULL
      FROM chosen c
      WHERE j.id = c.id AND (j.unique_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM ${jobs} AS o
        WHERE o.unique_key = j.unique_key AND o.id <> j.id AND ${inBitmask}(o.unique_states, o.state)))
      RETURNING j.*
    )
    SELECT retried.*, (
      SELECT count(pg_notify(${insertChannel(schema)}, q.queue)) FROM (SELECT DISTINCT queue FROM retried) q
    ) AS notified
    FROM retried ORDER BY id`;
}

/** Deletes the selected jobs that are not executing (cancel those first). */
export function deleteJobs(schema: string, filter: JobFilterSql, limit?: number) {
  const jobs = sql.id(schema, "jobs");
  return sql<JobRow>`
    WITH target AS (
      SELECT id FROM ${jobs}
      WHERE ${whereClause(filter, sql`state <> 'executing'`)}
      ORDER BY id ${limitClause(limit)}
      FOR UPDATE
    ), deleted AS (
      DELETE FROM ${jobs} AS j USING target t WHERE j.id = t.id RETURNING j.*
    )
    SELECT * FROM deleted ORDER BY id`;
}

/**
 * Moves a job that has not started (available, scheduled, retryable) to a new time: at
 * `scheduledAt`, or `delayMs` from the database's now.
 */
export function rescheduleJob(
  schema: string,
  id: string,
  when: { scheduledAt: Date | null; delayMs: number | null },
) {
  const jobs = sql.id(schema, "jobs");
  return sql<JobRow>`
    WITH due AS (
      SELECT coalesce(${when.scheduledAt}::timestamptz,
        now() + coalesce(${when.delayMs}::double precision, 0) * interval '1 millisecond') AS at
    ), moved AS (
      UPDATE ${jobs} AS j SET
        scheduled_at = due.at,
        state = CASE
          WHEN due.at > now() AND j.state = 'retryable' THEN j.state
          WHEN due.at > now() THEN 'scheduled'
          ELSE 'available' END
      FROM due
      WHERE j.id = ${id}::bigint AND j.state IN ('available', 'scheduled', 'retryable')
      RETURNING j.*
    )
    SELECT moved.*, (
      SELECT count(pg_notify(${insertChannel(schema)}, queue)) FROM moved WHERE state = 'available'
    ) AS notified
    FROM moved`;
}
