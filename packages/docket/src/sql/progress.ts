import { sql } from "kysely";

/**
 * The statements of progress reports (`progress()` in `perform`): the last value of each running
 * job is kept in `meta.progress`, written for all the jobs of a node at once, and NOTIFYd on
 * {@link progressChannel} so that every process can follow it.
 */

/** The meta key that holds a job's last reported progress. */
export const progressKey = "progress";

/**
 * The NOTIFY channel of progress reports. The payload is the JSON of a
 * {@link ProgressNotice}: the value is at most 4 KiB of JSON, well inside NOTIFY's 8,000 bytes.
 */
export function progressChannel(schema: string): string {
  return `${schema}_progress`;
}

/** What a progress NOTIFY carries: the event `job:progress` of the other nodes. */
export interface ProgressNotice {
  id: string;
  queue: string;
  worker: string;
  attempt: number;
  node: string;
  progress: unknown;
}

/** The reports of one tick, as parallel arrays (one round trip whatever their number). */
export interface ProgressBatch {
  ids: string[];
  attempts: number[];
  /** Each value's JSON text. */
  values: string[];
  /** Each report's NOTIFY payload (the JSON of a {@link ProgressNotice}). */
  payloads: string[];
  /**
   * 1 for a report whose attempt has ended: its value went with the outcome (see the ack),
   * so it is only notified here, not written.
   */
  notifyOnly: (0 | 1)[];
}

/**
 * Writes the last progress of each job of the batch into `meta.progress` while the attempt is
 * still this node's (executing, attempted by `node`, the same attempt), so that a late write
 * never touches a job that finished, was cancelled or moved to another node; then NOTIFYs the
 * reports written, and those whose value went with the outcome. Returns how many rows it wrote.
 */
export function storeProgress(schema: string, node: string, batch: ProgressBatch) {
  const jobs = sql.id(schema, "jobs");
  return sql<{ stored: number; notified: number }>`
    WITH x AS MATERIALIZED (
      SELECT * FROM unnest(${batch.ids}::bigint[], ${batch.attempts}::integer[],
        ${batch.values}::text[], ${batch.payloads}::text[], ${batch.notifyOnly}::integer[])
        AS x(id, attempt, value, payload, notify_only)
    ), b AS (
      -- The reports to write as one object keyed by job id, each row finding its own by key: a
      -- join of the batch with its jobs can be planned as a loop over the whole batch per job
      -- (see ackJobs in sql/ack.ts).
      SELECT coalesce(jsonb_object_agg(x.id::text, jsonb_build_array(x.attempt, x.value::jsonb)),
        '{}') AS reports
      FROM x WHERE x.notify_only = 0
    ), stored AS (
      -- An array of ids leads the planner to the primary key (see ackJobs in sql/ack.ts).
      UPDATE ${jobs} AS j
      SET meta = j.meta || jsonb_build_object(${progressKey}::text, b.reports -> j.id::text -> 1)
      FROM b
      WHERE j.id = ANY(ARRAY(SELECT id FROM x WHERE notify_only = 0))
        AND j.state::text = 'executing' AND j.attempted_by = ${node}
        AND j.attempt = (b.reports -> j.id::text ->> 0)::integer
      RETURNING j.id
    )
    SELECT (SELECT count(*) FROM stored)::integer AS stored, (
      SELECT count(pg_notify(${progressChannel(schema)}, x.payload)) FROM x
      WHERE x.notify_only = 1 OR x.id IN (SELECT id FROM stored)
    )::integer AS notified`;
}
