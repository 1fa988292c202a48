import { sql } from "kysely";
import type { JobState } from "../types.js";
import { awaitedKey, finishedChannel, insertChannel } from "./jobs.js";

/**
 * The ack: the outcomes of a batch of attempts stored in one statement (the acker's, and the
 * test helpers' that drain a queue).
 */

/** One outcome for {@link ackJobs}. */
export interface AckRow {
  id: string;
  attempt: number;
  state: JobState;
  /** Delay before the job is due again (retryable, scheduled, available); null keeps it. */
  delay_ms: number | null;
  /** 1 when the attempt is given back (snooze, shutdown), else 0. */
  refund: 0 | 1;
  error: { attempt: number; at: string; error: string; stack?: string } | null;
  /** Merged into `meta`. */
  meta: Record<string, unknown>;
}

/**
 * Completions with nothing to add to `meta` (no result), the common outcome: ids and their
 * attempts, sent as one JSON object of attempts by id.
 */
export interface PlainCompletions {
  ids: string[];
  attempts: number[];
}

/**
 * Records the outcomes of a batch of attempts in one UPDATE. A row only changes while it is
 * still this node's attempt: a job cancelled or rescued meanwhile is left as it is. Returns one
 * row: the ids stored, comma separated (one value to decode instead of a row per job).
 *
 * The outcomes travel as two JSON objects keyed by job id, the plain completions' attempts and
 * every other outcome, and each row finds its own with a lookup by key: the statement joins
 * nothing. A join of the batch with the jobs it updates is planned from statistics that see
 * few jobs executing (on a table never analyzed, or analyzed before a burst was claimed); the
 * planner then guesses one row and loops over the whole batch for each job, 500 × 500
 * comparisons in 100 ms instead of 5 (sql/claim-plan.test.ts holds it to that).
 */
export function ackJobs(schema: string, node: string, plain: PlainCompletions, rows: AckRow[]) {
  const jobs = sql.id(schema, "jobs");
  const state = sql.id(schema, "job_state");
  const attempts: Record<string, number> = {};
  plain.ids.forEach((id, k) => {
    attempts[id] = plain.attempts[k] as number;
  });
  const others: Record<string, Omit<AckRow, "id">> = {};
  for (const { id, ...outcome } of rows) others[id] = outcome;
  // The outcome of the row being updated (SQL NULL for a plain completion) and one of its fields.
  const outcome = sql`(b.others -> j.id::text)`;
  const field = (name: string) => sql`(${outcome} -> ${sql.lit(name)})`;
  const text = (name: string) => sql`(${outcome} ->> ${sql.lit(name)})`;
  const newState = sql`coalesce(${text("state")}::${state}, 'completed'::${state})`;
  return sql<{ ids: string | null; notified: string; finished: string }>`
    WITH b AS (
      SELECT ${JSON.stringify(attempts)}::text::jsonb AS plain,
        ${JSON.stringify(others)}::text::jsonb AS others
    ), acked AS (
      UPDATE ${jobs} AS j SET
        state = ${newState},
        completed_at = CASE WHEN ${newState} = 'completed' THEN now() ELSE j.completed_at END,
        cancelled_at = CASE WHEN ${newState} = 'cancelled' THEN now() ELSE j.cancelled_at END,
        discarded_at = CASE WHEN ${newState} = 'discarded' THEN now() ELSE j.discarded_at END,
        scheduled_at = CASE
          WHEN ${text("delay_ms")} IS NULL THEN j.scheduled_at
          ELSE now() + ${text("delay_ms")}::double precision * interval '1 millisecond' END,
        attempt = j.attempt - coalesce(${text("refund")}::integer, 0),
        errors = CASE WHEN jsonb_typeof(${field("error")}) = 'object'
          THEN j.errors || jsonb_build_array(${field("error")}) ELSE j.errors END,
        meta = CASE WHEN jsonb_typeof(${field("meta")}) = 'object'
          THEN j.meta || ${field("meta")} ELSE j.meta END
      FROM b
      -- The batch's ids lead the planner to the primary key (an array of unknown length is
      -- estimated small), and the state, compared as text, is no index condition. Otherwise the
      -- planner, whose statistics see few jobs executing, scans the index entries of every job
      -- that was ever executing, dead ones included (a scan that grows with throughput), or the
      -- whole table. The live states listed (no partial index has that predicate) let the
      -- partitioned layout plan against its live partition alone.
      WHERE j.id = ANY(ARRAY(
          SELECT k::bigint FROM b, jsonb_object_keys(b.plain) AS k
          UNION ALL SELECT k::bigint FROM b, jsonb_object_keys(b.others) AS k))
        AND j.state::text = 'executing' AND j.attempted_by = ${node}
        AND j.attempt = coalesce((b.plain ->> j.id::text)::integer, ${text("attempt")}::integer)
        AND j.state IN ('available', 'scheduled', 'executing', 'retryable')
      RETURNING j.id, j.state, j.queue, j.meta ? ${awaitedKey} AS awaited, j.dependents, j.batch_id
    ), batched AS (
      -- Jobs of a batch completed here, counted once per batch and statement, in batch order;
      -- the count that finishes a batch inserts its callback (record_batch_outcomes, migration
      -- 0010), under the batch row's lock. Discards and cancels are counted by the trigger of
      -- migration 0010. Plain jobs have no batch: nothing is counted.
      SELECT ${sql.id(schema, "record_batch_outcomes")}(g.batch_id, g.n, 0, 0) AS callback
      FROM (
        SELECT a.batch_id, count(*)::integer AS n FROM acked a
        WHERE a.batch_id IS NOT NULL AND a.state = 'completed'
        GROUP BY a.batch_id ORDER BY a.batch_id
      ) g
    ), released AS (
      -- Dependents of the jobs completed here: one dependency fewer to wait for; the last one
      -- makes them available (release_dependents, migration 0013, in a snapshot of its own that
      -- sees a dependent linked while this statement waited for its dependency's lock). A
      -- discarded or cancelled dependency is settled by the trigger of migration 0009 (which also
      -- covers admin cancels and the lifeline, and whole chains). Plain jobs have no dependents:
      -- the function is not called.
      SELECT ${sql.id(schema, "release_dependents")}(array_agg(u.dependent)) AS n
      FROM acked a CROSS JOIN unnest(a.dependents) AS u(dependent)
      WHERE a.dependents IS NOT NULL AND a.state = 'completed'
      HAVING count(*) > 0
    )
    SELECT string_agg(id::text, ',') AS ids, (
      SELECT count(pg_notify(${insertChannel(schema)}, q.queue))
      FROM (SELECT DISTINCT queue FROM acked WHERE state = 'available') q
    ) AS notified, (
      SELECT count(pg_notify(${finishedChannel(schema)}, a.id::text)) FROM acked a
      WHERE a.awaited AND a.state IN ('completed', 'discarded', 'cancelled')
    ) AS finished, (SELECT count(callback) FROM batched) AS callbacks,
      (SELECT sum(n) FROM released) AS released
    FROM acked`;
}
