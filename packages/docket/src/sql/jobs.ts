import { sql } from "kysely";
import type { JobState } from "../types.js";

/**
 * Every statement on the `jobs` table. Values travel as parameters, batches as one JSON
 * document each (one round trip per batch), and the schema through `sql.id`.
 */

/** A job row as Postgres returns it. */
export interface JobRow {
  id: string;
  state: JobState;
  queue: string;
  worker: string;
  args: Record<string, unknown>;
  meta: Record<string, unknown>;
  tags: string[];
  errors: { attempt: number; at: string; error: string; stack?: string }[];
  attempt: number;
  max_attempts: number;
  priority: number;
  inserted_at: Date;
  scheduled_at: Date;
  attempted_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  discarded_at: Date | null;
  attempted_by: string | null;
}

/** One row to insert, as the JSON document of {@link insertJobs} carries it. */
export interface InsertRow {
  queue: string;
  worker: string;
  args: unknown;
  meta: Record<string, unknown>;
  tags: string[];
  priority: number;
  max_attempts: number;
  /** ISO time; null means now plus `schedule_in_ms`. */
  scheduled_at: string | null;
  /** Delay from the database's now(), so that clocks of app servers do not matter. */
  schedule_in_ms: number | null;
}

/** The NOTIFY channel on which inserts and staging wake the producers of a schema. */
export function insertChannel(schema: string): string {
  return `${schema}_jobs`;
}

/**
 * The NOTIFY channel on which the ack tells `waitForJob` callers that an awaited job finished
 * (payload: its id). Only jobs marked with {@link awaitedKey} are notified: a NOTIFY serializes
 * committing transactions, so the hot path sends none for jobs nobody waits for.
 */
export function finishedChannel(schema: string): string {
  return `${schema}_finished`;
}

/** The meta key `waitForJob` sets on the job it waits for. */
export const awaitedKey = "docket:awaited";

/** Marks a job as awaited unless it has finished; returns nothing when it does not exist. */
export function markAwaited(schema: string, id: string) {
  return sql<{ id: string }>`
    UPDATE ${sql.id(schema, "jobs")} SET meta = meta || jsonb_build_object(${awaitedKey}::text, true)
    WHERE id = ${id}::bigint AND state NOT IN ('completed', 'discarded', 'cancelled')
      AND NOT meta ? ${awaitedKey}
    RETURNING id::text`;
}

/** What {@link insertJobBatch} returns: one row for the whole batch. */
export interface InsertedBatch {
  /** The new ids in the order of the args, comma separated. */
  ids: string;
  state: JobState;
  inserted_at: Date;
  scheduled_at: Date;
}

/**
 * Inserts jobs that wait for `dependsOn` (ids), in one statement: each dependency's row gets the
 * new ids in `dependents` (taking its lock, so that an ack of it, before or after, sees them), and
 * each new job waits, `scheduled` at 'infinity', for the dependencies not yet finished. Nothing is
 * written, and `ids` is null, when a dependency does not exist.
 */
export function insertDependentBatch(
  schema: string,
  shared: Omit<InsertRow, "args">,
  argsJson: string,
  dependsOn: string[],
  policy: "cancel" | "run",
) {
  const jobs = sql.id(schema, "jobs");
  const state = sql.id(schema, "job_state");
  return sql<InsertedBatch>`
    WITH args AS (
      SELECT a.args, a.ord, nextval(pg_get_serial_sequence(quote_ident(${schema}::text) || '.jobs', 'id')) AS id
      FROM jsonb_array_elements(${argsJson}::text::jsonb) WITH ORDINALITY AS a(args, ord)
    ), known AS (
      SELECT count(*) = cardinality(${dependsOn}::bigint[]) AS ok
      FROM ${jobs} WHERE id = ANY(${dependsOn}::bigint[])
    ), linked AS (
      UPDATE ${jobs} SET dependents = coalesce(dependents, '{}') || (SELECT array_agg(id) FROM args)
      WHERE id = ANY(${dependsOn}::bigint[]) AND (SELECT ok FROM known)
      RETURNING state
    ), waits AS (
      SELECT count(*) FILTER (WHERE state NOT IN ('completed', 'discarded', 'cancelled'))::integer AS n,
        count(*) FILTER (WHERE state IN ('discarded', 'cancelled'))::integer AS failed
      FROM linked
    ), inserted AS (
      INSERT INTO ${jobs} (id, state, queue, worker, args, meta, tags,
        priority, max_attempts, scheduled_at, waiting_on, dependency_policy, cancelled_at, depends_on)
      OVERRIDING SYSTEM VALUE
      SELECT a.id,
        CASE WHEN w.failed > 0 AND ${policy}::text = 'cancel' THEN 'cancelled'::${state}
          WHEN w.n > 0 THEN 'scheduled'::${state} ELSE 'available'::${state} END,
        ${shared.queue}::text, ${shared.worker}::text, a.args, ${shared.meta}::jsonb,
        ${shared.tags}::text[], ${shared.priority}::smallint, ${shared.max_attempts}::integer,
        CASE WHEN w.n > 0 THEN 'infinity'::timestamptz ELSE now() END, w.n, ${policy}::text,
        CASE WHEN w.failed > 0 AND ${policy}::text = 'cancel' THEN now() END, ${dependsOn}::bigint[]
      FROM args a CROSS JOIN waits w
      WHERE (SELECT ok FROM known)
      ORDER BY a.ord
      RETURNING id, state
    )
    SELECT string_agg(id::text, ',' ORDER BY id) AS ids, min(state) AS state, now() AS inserted_at,
      now() AS scheduled_at, (
        SELECT count(pg_notify(${insertChannel(schema)}, ${shared.queue}::text))
        WHERE bool_or(state = 'available')
      ) AS notified
    FROM inserted`;
}

/**
 * Inserts jobs that share everything but their args, in one statement, and notifies their queue
 * if they are available. `argsJson` is a JSON array of the args objects, sent as text and parsed
 * once by the server; the reply is one row, whatever the batch size.
 */
export function insertJobBatch(schema: string, shared: Omit<InsertRow, "args">, argsJson: string) {
  const jobs = sql.id(schema, "jobs");
  const state = sql.id(schema, "job_state");
  return sql<InsertedBatch>`
    WITH due AS (
      SELECT coalesce(${shared.scheduled_at}::timestamptz,
        now() + coalesce(${shared.schedule_in_ms}::double precision, 0) * interval '1 millisecond') AS at
    ), flow AS (
      -- The limits of the queue, if it has any: its jobs then carry a partition key.
      SELECT flow FROM ${sql.id(schema, "queues")} WHERE name = ${shared.queue}::text AND flow IS NOT NULL
    ), inserted AS (
      INSERT INTO ${jobs} (state, queue, worker, args, meta, tags, priority, max_attempts, scheduled_at,
        partition_key)
      SELECT
        CASE WHEN due.at > now() THEN 'scheduled'::${state} ELSE 'available'::${state} END,
        ${shared.queue}::text, ${shared.worker}::text, a.args, ${shared.meta}::jsonb,
        ${shared.tags}::text[], ${shared.priority}::smallint, ${shared.max_attempts}::integer, due.at,
        CASE WHEN flow.flow IS NOT NULL
          THEN ${sql.id(schema, "flow_partition_key")}(flow.flow -> 'by', ${shared.worker}::text, a.args) END
      FROM due CROSS JOIN jsonb_array_elements(${argsJson}::text::jsonb) WITH ORDINALITY AS a(args, ord)
        LEFT JOIN flow ON true
      ORDER BY a.ord
      RETURNING id, state
    )
    SELECT string_agg(id::text, ',' ORDER BY id) AS ids, min(state) AS state, now() AS inserted_at,
      (SELECT at FROM due) AS scheduled_at, (
        SELECT count(pg_notify(${insertChannel(schema)}, ${shared.queue}::text))
        WHERE min(state) = 'available'
      ) AS notified
    FROM inserted`;
}

/**
 * A claimed job as {@link fetchJobs} returns it: only what the claim does not already know. Its
 * state is `executing`, its queue the one fetched, `attempted_by` the node, and the final
 * timestamps are null (a retry clears them). Every column fewer is less to decode per job.
 */
export type ClaimedRow = Pick<
  JobRow,
  | "id"
  | "worker"
  | "args"
  | "meta"
  | "tags"
  | "errors"
  | "attempt"
  | "max_attempts"
  | "priority"
  | "inserted_at"
  | "scheduled_at"
  | "attempted_at"
>;

/**
 * Claims up to `limit` available jobs of one queue for `node`, in priority order, skipping rows
 * that other nodes hold locked. Claims nothing from a queue with limits (see sql/flow.ts).
 */
export function fetchJobs(schema: string, queue: string, limit: number, node: string) {
  const jobs = sql.id(schema, "jobs");
  return sql<ClaimedRow>`
    WITH next AS (
      SELECT id FROM ${jobs}
      WHERE state = 'available' AND queue = ${queue}
        -- A queue that got limits (flow control) is claimed by flow_claim only: until this node
        -- hears of them, it claims nothing here (one probe of the queues key per batch).
        AND NOT EXISTS (
          SELECT 1 FROM ${sql.id(schema, "queues")} WHERE name = ${queue} AND flow IS NOT NULL)
      ORDER BY priority, scheduled_at, id
      -- A sub-select, not a parameter: a custom plan would see the limit and cost less than the
      -- generic one, which guesses 10 % of the rows, so the prepared claim was planned afresh
      -- every time (0.28 ms of a 0.5 ms claim, seen in pg_stat_statements). Both guess alike now
      -- and the generic plan (the one sql/claim-plan.test.ts checks) is kept.
      LIMIT (SELECT ${limit}::integer)
      FOR UPDATE SKIP LOCKED
    )
    -- id = ANY(ARRAY(...)), not a join with next: the prepared statement turns generic after a
    -- few runs, and the generic plan of a join guesses the CTE's size from stale statistics. Right
    -- after a burst drained (tens of thousands of rows that were available at the last ANALYZE
    -- and are finished now) it hash-joins against a sequential scan of the whole table: 5.5 ms
    -- instead of 0.25 ms per claim on 20,000 finished rows. An array is always probed through
    -- the primary key (sql/claim-plan.test.ts holds it to that).
    -- The live states listed, the partitioned layout plans against its live partition alone.
    -- All four, not 'available': that would match the partial fetch index's predicate, and the
    -- plain table's plan would walk every available job instead of probing the ids (10× slower).
    UPDATE ${jobs} AS j
    SET state = 'executing', attempt = j.attempt + 1, attempted_at = now(), attempted_by = ${node}
    WHERE j.id = ANY(ARRAY(SELECT id FROM next))
      AND j.state IN ('available', 'scheduled', 'executing', 'retryable')
    RETURNING j.id, j.worker, j.args, j.meta, j.tags, j.errors, j.attempt, j.max_attempts,
      j.priority, j.inserted_at, j.scheduled_at, j.attempted_at`;
}

/** Makes due scheduled and retryable jobs available and wakes their queues. */
export function stageJobs(schema: string, limit: number) {
  const jobs = sql.id(schema, "jobs");
  return sql<{ queue: string; count: number }>`
    WITH due AS (
      SELECT id FROM ${jobs}
      WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= now()
      ORDER BY scheduled_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), staged AS (
      -- An array, not a join: the generic plan stays on the primary key (see fetchJobs).
      UPDATE ${jobs} AS j SET state = 'available'
      -- All live states (see fetchJobs): the stage index's own predicate would lead the plan.
      WHERE j.id = ANY(ARRAY(SELECT id FROM due))
        AND j.state IN ('available', 'scheduled', 'executing', 'retryable')
      RETURNING j.queue
    )
    SELECT queue, count(*)::integer AS count, pg_notify(${insertChannel(schema)}, queue) AS notified
    FROM staged GROUP BY queue`;
}

/**
 * The jobs that job `id` depends on, in the order its insert listed them (one round trip, by the
 * primary key). A dependency deleted since (pruned, or by the admin API) is missing.
 */
export function selectDependencies(schema: string, id: string) {
  const jobs = sql.id(schema, "jobs");
  return sql<JobRow>`
    SELECT d.* FROM ${jobs} j
      CROSS JOIN LATERAL unnest(j.depends_on) WITH ORDINALITY AS u(id, ord)
      JOIN ${jobs} d ON d.id = u.id
    WHERE j.id = ${id}::bigint
    ORDER BY u.ord`;
}

/** Selects one job by id. */
export function selectJob(schema: string, id: string) {
  return sql<JobRow>`SELECT * FROM ${sql.id(schema, "jobs")} WHERE id = ${id}::bigint`;
}

/**
 * Gives back the jobs that `node` claimed for `queue` more than `graceMs` ago but no longer
 * holds: a fetch whose reply was lost with its connection, or an outcome that could not be
 * stored. The node is alive, so the lifeline would never rescue them. They become available
 * again with the attempt refunded.
 */
export function reclaimLostJobs(
  schema: string,
  node: string,
  queue: string,
  held: string[],
  graceMs: number,
) {
  const jobs = sql.id(schema, "jobs");
  return sql<{ id: string; queue: string }>`
    WITH lost AS (
      UPDATE ${jobs} SET state = 'available', attempt = attempt - 1, scheduled_at = now()
      WHERE state = 'executing' AND attempted_by = ${node} AND queue = ${queue}
        AND attempted_at < now() - ${graceMs}::double precision * interval '1 millisecond'
        AND id NOT IN (SELECT value::bigint FROM jsonb_array_elements_text(${held}::jsonb))
      RETURNING id, queue
    )
    SELECT id, queue, (
      SELECT count(pg_notify(${insertChannel(schema)}, q.queue)) FROM (SELECT DISTINCT queue FROM lost) q
    ) AS notified
    FROM lost`;
}
