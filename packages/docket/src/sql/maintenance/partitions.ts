import { sql } from "kysely";

/**
 * The leader's statements on the partitioned layout (migrations/partitioned/layout.sql, see
 * docs/scaling.md). Partition names and bounds are built inside the database by the layout's
 * functions (`format` with `%I` and `%L`); these statements only pass them bound values.
 */

/** The finished states, each range-partitioned by day on its own timestamp. */
export const partitionedStates = ["completed", "discarded", "cancelled"] as const;

/** A state whose jobs live in day partitions. */
export type PartitionedState = (typeof partitionedStates)[number];

/**
 * Creates the missing day partitions of every finished state for `days` UTC days from `from`
 * (a `YYYY-MM-DD` date); returns how many it created. Each CREATE TABLE ... PARTITION OF locks
 * that state's partitioned table for its (short) duration.
 */
export function createDayPartitions(schema: string, from: string, days: number) {
  return sql<{ created: number }>`
    SELECT ${sql.id(schema, "jobs_create_day_partitions")}(${from}::date, ${days}::integer) AS created`;
}

/**
 * Detaches the day partitions of `state` whose day ended `maxAgeMs` ago or earlier, after removing
 * the unique keys their jobs held; returns their names, for {@link dropDetachedPartition}.
 */
export function detachDayPartitions(schema: string, state: PartitionedState, maxAgeMs: number) {
  return sql<{ name: string }>`
    SELECT name FROM ${sql.id(schema, "jobs_detach_day_partitions")}(
      ${state}::${sql.id(schema, "job_state")},
      now() - ${maxAgeMs}::double precision * interval '1 millisecond') AS name`;
}

/**
 * Drops one partition that {@link detachDayPartitions} detached, in a statement of its own: the
 * files are unlinked at its commit, while no lock of `jobs` is held.
 */
export function dropDetachedPartition(schema: string, name: string) {
  return sql`DROP TABLE IF EXISTS ${sql.id(schema, name)}`;
}
