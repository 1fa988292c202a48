import { sql } from "kysely";
import type { ClaimedRow } from "./jobs.js";
import { controlChannel, type QueueRow } from "./queues.js";

/**
 * The statements of flow control (migration 0007): claims of limited queues, the limits stored
 * in `queues.flow`, and the partition key that inserts give the jobs of limited queues. The
 * work happens in the functions `flow_claim` and `flow_configure`, so that a limited claim is one
 * round trip and still counts, under the queue's lock, what the claim before it committed.
 */

/** A row of `queues` with its flow columns. */
export interface FlowQueueRow extends QueueRow {
  /** The limits in force (see `StoredFlow` in flow/flow-options.ts), null when unlimited. */
  flow: Record<string, unknown> | null;
  flow_override: boolean;
}

/**
 * Claims up to `limit` available jobs of a queue within the limits stored for it: its global
 * limit, its rate limit in the current window and each partition key's limit, round robin
 * across keys. Same columns as `fetchJobs`.
 */
export function claimLimitedJobs(schema: string, queue: string, limit: number, node: string) {
  return sql<ClaimedRow>`
    SELECT id, worker, args, meta, tags, errors, attempt, max_attempts, priority, inserted_at,
      scheduled_at, attempted_at
    FROM ${sql.id(schema, "flow_claim")}(${queue}::text, ${limit}::integer, ${node}::text)`;
}

/**
 * Stores a queue's limits (null: none) and tells every node on the control channel.
 * `configured` is a node's configuration at start, which leaves a runtime override in place;
 * otherwise the change is an override when `override` is set. Re-keys the queue's unfinished
 * jobs when the partition key definition changes.
 */
export function configureFlow(
  schema: string,
  queue: string,
  flow: object | null,
  mode: { override: boolean; configured: boolean },
) {
  return sql<FlowQueueRow & { notified: string }>`
    SELECT c.*, pg_notify(${controlChannel(schema)},
      json_build_object('action', 'limit', 'queue', c.name, 'limited', c.flow IS NOT NULL)::text)
      AS notified
    FROM ${sql.id(schema, "flow_configure")}(${queue}::text, ${flow}::jsonb,
      ${mode.override}::boolean, ${mode.configured}::boolean) AS c`;
}

/** The stored limits of every queue that has some, for `docket status`. */
export function selectQueueFlows(schema: string) {
  return sql<{ name: string; flow: Record<string, unknown>; flow_override: boolean }>`
    SELECT name, flow, flow_override FROM ${sql.id(schema, "queues")}
    WHERE flow IS NOT NULL ORDER BY name`;
}

/** The stored limits of one queue (no row: none). */
export function selectQueueFlow(schema: string, queue: string) {
  return sql<{ flow: Record<string, unknown> | null; flow_override: boolean }>`
    SELECT flow, flow_override FROM ${sql.id(schema, "queues")} WHERE name = ${queue}`;
}
