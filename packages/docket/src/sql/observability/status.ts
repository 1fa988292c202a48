import { sql } from "kysely";
import type { JobState } from "../../types.js";

/**
 * Read-only statements behind `docket status`. They span several tables, some of which older
 * schemas lack, so each is only run once {@link selectTables} has found its table.
 */

/** Which of docket's tables exist in `schema`. */
export function selectTables(schema: string, tables: readonly string[]) {
  return sql<{ table: string; present: boolean }>`
    SELECT t AS table, to_regclass(format('%I.%I', ${schema}::text, t)) IS NOT NULL AS present
    FROM unnest(${tables as string[]}::text[]) AS t`;
}

/** Jobs per queue and state. */
export function countJobsByQueueAndState(schema: string) {
  return sql<{ queue: string; state: JobState; count: number }>`
    SELECT queue, state, count(*)::integer AS count
    FROM ${sql.id(schema, "jobs")}
    GROUP BY queue, state`;
}

/** Queues as the cluster knows them: paused or not. */
export function selectQueueFlags(schema: string) {
  return sql<{ name: string; paused: boolean }>`
    SELECT name, paused FROM ${sql.id(schema, "queues")} ORDER BY name`;
}

/** Leadership leases that have not expired, by the database's clock (not cleanup runs'). */
export function selectCurrentLeaders(schema: string) {
  return sql<{ name: string; node: string; elected_at: Date; expires_at: Date }>`
    SELECT name, node, elected_at, expires_at FROM ${sql.id(schema, "leaders")}
    WHERE expires_at > now() AND name NOT LIKE 'cleanup:%'
    ORDER BY name`;
}

/** Producers whose last heartbeat is younger than `timeoutMs`, by the database's clock. */
export function selectLiveProducers(schema: string, timeoutMs: number) {
  return sql<{
    node: string;
    queue: string;
    started_at: Date;
    heartbeat_at: Date;
    concurrency: number;
  }>`
    SELECT node, queue, started_at, heartbeat_at, concurrency FROM ${sql.id(schema, "producers")}
    WHERE heartbeat_at > now() - ${timeoutMs}::double precision * interval '1 millisecond'
    ORDER BY queue, node`;
}
