import { sql } from "kysely";
import { insertChannel } from "./jobs.js";

/**
 * Statements of workflows and batches: a whole graph of jobs inserted in one statement, and the
 * `batches` rows whose callbacks the ack statement and the triggers of migration 0010 insert.
 */

/** One step of a graph, as the JSON document of {@link insertGraph} carries it. */
export interface GraphStepRow {
  /** The step's position in the document, from 0. */
  i: number;
  queue: string;
  worker: string;
  args: unknown;
  meta: Record<string, unknown>;
  tags: string[];
  priority: number;
  max_attempts: number;
  /** Positions of the steps it waits for; empty for a root. */
  deps: number[];
  /** `dependency_policy` of a step that waits: "cancel" or "run". */
  policy: "cancel" | "run";
}

/** The batch a graph's jobs belong to: its row is inserted by the same statement. */
export interface GraphBatch {
  callbackOn: "finished" | "discarded";
  /** The callback job to insert: queue, worker, args, meta, tags, priority, max_attempts. */
  callback: Record<string, unknown>;
}

/**
 * Inserts a graph of jobs in one statement: every step gets its id first, so that each row is
 * written whole, with the ids it waits for (`depends_on`, `waiting_on`) and the ids that wait for
 * it (`dependents`); a root is available at once, a step that waits is `scheduled` at
 * 'infinity' until the ack of its last dependency releases it (as for `dependsOn`). With
 * `batch`, the batch row is inserted too and every job points to it. New rows only: no other
 * transaction can finish one of them before this one commits, so nothing is locked. Returns the
 * ids in the order of the steps, comma separated, and the batch's id.
 */
export function insertGraph(schema: string, stepsJson: string, batch: GraphBatch | null) {
  const jobs = sql.id(schema, "jobs");
  const state = sql.id(schema, "job_state");
  return sql<{ ids: string | null; batch_id: string | null; inserted_at: Date }>`
    WITH steps AS MATERIALIZED (
      SELECT s.*, nextval(pg_get_serial_sequence(quote_ident(${schema}::text) || '.jobs', 'id')) AS id
      FROM jsonb_to_recordset(${stepsJson}::text::jsonb) AS s(i integer, queue text, worker text,
        args jsonb, meta jsonb, tags text[], priority smallint, max_attempts integer, deps integer[],
        policy text)
    ), batch AS (
      INSERT INTO ${sql.id(schema, "batches")} (total, remaining, callback_on, callback)
      SELECT count(*), count(*), ${batch?.callbackOn ?? null}::text, ${batch ? JSON.stringify(batch.callback) : null}::text::jsonb
      FROM steps HAVING ${batch !== null}::boolean
      RETURNING id
    ), links AS (
      SELECT s.id AS dependent, d.id AS dependency, u.pos
      FROM steps s CROSS JOIN LATERAL unnest(s.deps) WITH ORDINALITY AS u(dep, pos)
        JOIN steps d ON d.i = u.dep
    ), up AS (
      SELECT dependent, array_agg(dependency ORDER BY pos) AS ids, count(*)::integer AS n
      FROM links GROUP BY dependent
    ), down AS (
      SELECT dependency, array_agg(dependent ORDER BY dependent) AS ids FROM links GROUP BY dependency
    ), inserted AS (
      INSERT INTO ${jobs} (id, state, queue, worker, args, meta, tags, priority, max_attempts,
        scheduled_at, waiting_on, dependency_policy, depends_on, dependents, batch_id, partition_key)
      OVERRIDING SYSTEM VALUE
      SELECT s.id, CASE WHEN up.n > 0 THEN 'scheduled'::${state} ELSE 'available'::${state} END,
        s.queue, s.worker, s.args, s.meta, s.tags, s.priority, s.max_attempts,
        CASE WHEN up.n > 0 THEN 'infinity'::timestamptz ELSE now() END, up.n,
        CASE WHEN up.n > 0 THEN s.policy END, up.ids, down.ids, (SELECT id FROM batch),
        CASE WHEN q.flow IS NOT NULL
          THEN ${sql.id(schema, "flow_partition_key")}(q.flow -> 'by', s.worker, s.args) END
      FROM steps s
        LEFT JOIN up ON up.dependent = s.id
        LEFT JOIN down ON down.dependency = s.id
        LEFT JOIN ${sql.id(schema, "queues")} q ON q.name = s.queue AND q.flow IS NOT NULL
      ORDER BY s.i
      RETURNING queue, state
    )
    SELECT (SELECT string_agg(id::text, ',' ORDER BY i) FROM steps) AS ids,
      (SELECT id::text FROM batch) AS batch_id, now() AS inserted_at, (
        SELECT count(pg_notify(${insertChannel(schema)}, q.queue))
        FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') q
      ) AS notified`;
}

/** Settles a batch that got no jobs: its callback is inserted at once. */
export function settleEmptyBatch(schema: string, id: string) {
  return sql<{ callback: string | null }>`
    SELECT ${sql.id(schema, "record_batch_outcomes")}(${id}::bigint, 0, 0, 0)::text AS callback`;
}
