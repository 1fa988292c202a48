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
 * The day partitions missing for `days` UTC days from `from` (a `YYYY-MM-DD` date; null: the
 * database's today), in the order
 * to create them, each for {@link createDayPartition}.
 */
export function missingDayPartitions(schema: string, from: string | null, days: number) {
  return sql<{ state: PartitionedState; day: string }>`
    SELECT state::text AS state, day::text AS day
    FROM ${sql.id(schema, "jobs_missing_day_partitions")}(
      coalesce(${from}::date, (now() AT TIME ZONE 'UTC')::date), ${days}::integer)`;
}

/**
 * Creates one day partition, in a transaction of its own (its lock of the state's table lasts
 * until commit). `created` is false when it exists already or the default partition holds jobs
 * of that day.
 */
export function createDayPartition(schema: string, state: PartitionedState, day: string) {
  return sql<{ created: boolean }>`
    SELECT ${sql.id(schema, "jobs_create_day_partition")}(
      ${state}::${sql.id(schema, "job_state")}, ${day}::date) AS created`;
}

/**
 * Detaches, for each state given, the day partitions whose day ended its retention (`maxAgeMs`)
 * ago or earlier, after removing the unique keys their jobs held: one statement for every state,
 * run in one short transaction. Returns the names detached, for {@link dropDetachedPartitions}.
 */
export function detachDayPartitions(
  schema: string,
  retention: Partial<Record<PartitionedState, number>>,
) {
  const states = Object.keys(retention) as PartitionedState[];
  const ages = states.map((state) => retention[state] as number);
  return sql<{ name: string }>`
    SELECT d.name
    FROM unnest(${states}::text[], ${ages}::double precision[]) AS s(state, max_age_ms),
      LATERAL ${sql.id(schema, "jobs_detach_day_partitions")}(
        s.state::${sql.id(schema, "job_state")},
        now() - s.max_age_ms * interval '1 millisecond') AS d(name)`;
}

/**
 * Drops up to `limit` tables of `schema` named like day partitions and attached to nothing: the
 * days {@link detachDayPartitions} just detached, and any an earlier run detached but could not
 * drop (a lost connection, a timeout). One statement: the files are unlinked at its commit, while
 * no lock of `jobs` is held. Returns the names dropped.
 */
export function dropDetachedPartitions(schema: string, limit: number) {
  return sql<{ name: string }>`
    SELECT d.name
    FROM (
      SELECT c.relname::text AS name
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
      WHERE n.nspname = ${schema} AND c.relkind = 'r' AND NOT c.relispartition
        AND c.relname ~ '^jobs_(completed|discarded|cancelled)_[0-9]{8}$'
      ORDER BY c.relname
      LIMIT ${limit}::integer
    ) AS d
    WHERE ${sql.id(schema, "jobs_drop_detached_partition")}(d.name)`;
}
