import { sql } from "kysely";

/**
 * Every statement on the `queues` table, which holds what the whole cluster knows about each
 * queue: whether it is paused and the concurrency that overrides each node's own limit.
 */

/** A row of `queues`. */
export interface QueueRow {
  name: string;
  paused: boolean;
  concurrency: number | null;
  updated_at: Date;
  /** The limits in force (flow control, see sql/flow.ts); null when the queue has none. */
  flow: Record<string, unknown> | null;
}

/** The NOTIFY channel of control messages (pause, resume, scale, cancel) of a schema. */
export function controlChannel(schema: string): string {
  return `${schema}_control`;
}

/**
 * Registers the queues a node runs (so that `docket status` lists them before they hold any
 * job) and returns their rows.
 */
export function registerQueues(schema: string, names: string[]) {
  const queues = sql.id(schema, "queues");
  return sql<QueueRow>`
    WITH added AS (
      INSERT INTO ${queues} (name)
      SELECT unnest(${names}::text[])
      ON CONFLICT (name) DO NOTHING
      RETURNING *
    )
    SELECT * FROM added
    UNION ALL
    SELECT * FROM ${queues} WHERE name = ANY(${names}::text[]) AND name NOT IN (SELECT name FROM added)`;
}

/**
 * Records a queue's paused state or concurrency (`undefined` leaves a field as it is) and
 * sends `message` on the control channel, delivered when the statement commits.
 */
export function updateQueue(
  schema: string,
  name: string,
  change: { paused?: boolean; concurrency?: number | null },
  message: object,
) {
  const queues = sql.id(schema, "queues");
  const setPaused = change.paused !== undefined;
  const setConcurrency = change.concurrency !== undefined;
  return sql<QueueRow & { notified: string }>`
    WITH updated AS (
      INSERT INTO ${queues} (name, paused, concurrency, updated_at)
      VALUES (${name}, ${change.paused ?? false}, ${change.concurrency ?? null}::integer, now())
      ON CONFLICT (name) DO UPDATE SET
        paused = CASE WHEN ${setPaused} THEN EXCLUDED.paused ELSE ${queues}.paused END,
        concurrency = CASE WHEN ${setConcurrency} THEN EXCLUDED.concurrency ELSE ${queues}.concurrency END,
        updated_at = now()
      RETURNING *
    )
    SELECT updated.*, pg_notify(${controlChannel(schema)}, ${JSON.stringify(message)}) AS notified
    FROM updated`;
}

/** Sends a control message that changes nothing stored (one node's queue, say). */
export function notifyControl(schema: string, message: object) {
  return sql<{ notified: string }>`
    SELECT pg_notify(${controlChannel(schema)}, ${JSON.stringify(message)}) AS notified`;
}

/** Every row of `queues`, by name. */
export function selectQueues(schema: string) {
  return sql<QueueRow>`SELECT * FROM ${sql.id(schema, "queues")} ORDER BY name`;
}
