import { sql } from "kysely";

/**
 * Every statement on the `producers` table: one row per running queue of each node, whose
 * `heartbeat_at` the node refreshes. A job's producer is `(jobs.attempted_by, jobs.queue)`.
 */

/** One queue of a node, as its heartbeat reports it. */
export interface HeartbeatRow {
  queue: string;
  concurrency: number;
}

/** A row of `producers`. */
export interface ProducerRow {
  node: string;
  queue: string;
  started_at: Date;
  heartbeat_at: Date;
  concurrency: number;
}

/** Refreshes the rows of all the queues of `node` in one statement, creating missing ones. */
export function heartbeatProducers(schema: string, node: string, rows: HeartbeatRow[]) {
  const producers = sql.id(schema, "producers");
  return sql<{ queue: string }>`
    INSERT INTO ${producers} AS p (node, queue, started_at, heartbeat_at, concurrency)
    SELECT ${node}, x.queue, now(), now(), x.concurrency
    FROM jsonb_to_recordset(${rows}::jsonb) AS x(queue text, concurrency integer)
    ON CONFLICT (node, queue) DO UPDATE SET
      heartbeat_at = now(),
      concurrency = excluded.concurrency
    RETURNING p.queue`;
}

/** Removes the rows of `node` (when it stops). */
export function deleteNodeProducers(schema: string, node: string) {
  return sql<{ queue: string }>`
    DELETE FROM ${sql.id(schema, "producers")} WHERE node = ${node} RETURNING queue`;
}

/** Removes the rows of producers whose last heartbeat is older than `timeoutMs`. */
export function deleteStaleProducers(schema: string, timeoutMs: number) {
  return sql<ProducerRow>`
    DELETE FROM ${sql.id(schema, "producers")}
    WHERE heartbeat_at < now() - ${timeoutMs}::double precision * interval '1 millisecond'
    RETURNING *`;
}

/** Every producer row, oldest heartbeat first. */
export function selectProducers(schema: string) {
  return sql<ProducerRow>`
    SELECT * FROM ${sql.id(schema, "producers")} ORDER BY heartbeat_at, node, queue`;
}
