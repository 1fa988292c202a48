import { type RawBuilder, sql } from "kysely";

/**
 * The statements of cleanup targets on the application's tables: reading a table's definition
 * from the catalog, deleting or archiving one batch of rows, and the lease that keeps
 * two runs of one target apart. Every table and column name comes from configuration and goes
 * through `sql.id` after the catalog has confirmed it; values travel as parameters.
 */

/** A column as the catalog describes it. */
export interface ColumnInfo {
  name: string;
  /** `format_type()`: `timestamp with time zone`, `uuid`… */
  type: string;
  /** `pg_type.typcategory`: `D` for dates and times, `N` numbers, `S` strings… */
  category: string;
}

/** A table as the catalog describes it. */
export interface TableInfoRow {
  schema: string;
  name: string;
  /** `r` table, `p` partitioned table. */
  kind: string;
  columns: ColumnInfo[];
  primary_key: string[] | null;
}

/**
 * The table named `table` in `schema`, or in the first schema of the search path that holds
 * one when `schema` is undefined; no row if there is none. An unqualified name never resolves
 * to a system schema (`pg_catalog`, `information_schema`, `pg_toast`, `pg_temp*`), even when
 * the search path names one, so `pg_authid` is "not found" rather than the role catalog.
 * Names are exact (case-sensitive), as the catalog stores them.
 */
export function describeTable(schema: string | undefined, table: string) {
  const regclass =
    schema === undefined
      ? sql`(
          SELECT c.oid FROM unnest(current_schemas(false)) WITH ORDINALITY AS p(nspname, ord)
          JOIN pg_namespace n ON n.nspname = p.nspname
          JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = ${table}::text
          WHERE p.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND p.nspname NOT LIKE 'pg\_temp\_%' AND p.nspname NOT LIKE 'pg\_toast\_temp\_%'
          ORDER BY p.ord LIMIT 1)`
      : sql`to_regclass(quote_ident(${schema}::text) || '.' || quote_ident(${table}::text))`;
  return sql<TableInfoRow>`
    SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
      coalesce((
        SELECT jsonb_agg(jsonb_build_object(
          'name', a.attname::text,
          'type', format_type(a.atttypid, a.atttypmod),
          'category', t.typcategory::text) ORDER BY a.attnum)
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      ), '[]'::jsonb) AS columns,
      (
        SELECT array_agg(a.attname::text ORDER BY k.ord)
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary
      ) AS primary_key
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = ${regclass}`;
}

/** A table checked against the catalog, ready to build statements on. */
export interface BatchTable {
  schema: string;
  name: string;
  /** Every column, in order: what an archive table receives. */
  columns: string[];
  /** The primary key, or `["ctid"]` for a plain table without one. */
  key: string[];
}

/** The table as `"schema"."name"`. */
export function tableRef(table: BatchTable): RawBuilder<unknown> {
  return sql.id(table.schema, table.name);
}

/** A column of the row alias `t`. */
export function col(column: string): RawBuilder<unknown> {
  return sql.id("t", column);
}

/** The columns that pick rows out for deletion: the key, as `t.k1, t.k2`. */
function keyList(table: BatchTable, alias = "t") {
  return sql.join(table.key.map((k) => sql.id(alias, k)));
}

/**
 * Rows whose date (a column, or docket's own expression) is before `cutoff`, as a batch of
 * candidates: their key and their date as `docket_date`. Rows locked by others are skipped.
 * `within` narrows the batch to one archive period; `ordered` walks the date's order (an index
 * on it keeps this cheap), so that archive batches fill one period after another.
 */
export function olderThanCandidates(
  table: BatchTable,
  options: {
    date: RawBuilder<unknown>;
    cutoff: Date;
    where?: RawBuilder<unknown>;
    within?: { from: Date; until: Date };
    ordered: boolean;
    limit: number;
  },
) {
  const { date, cutoff, where, within, ordered, limit } = options;
  const extra = where ? sql`AND ${where}` : sql``;
  const period = within
    ? sql`AND ${date} >= ${within.from}::timestamptz AND ${date} < ${within.until}::timestamptz`
    : sql``;
  const order = ordered ? sql`ORDER BY ${date}, ${keyList(table)}` : sql``;
  return sql`
    SELECT ${keyList(table)}, ${date} AS docket_date FROM ${tableRef(table)} AS t
    WHERE ${date} < ${cutoff}::timestamptz ${extra} ${period}
    ${order}
    LIMIT ${limit}
    FOR UPDATE OF t SKIP LOCKED`;
}

/** One group of a keepLatest target: its partition columns and their values. */
export type PartitionValues = Record<string, unknown>;

/**
 * The groups of a table with more than `count` rows, each as its columns' values in text form
 * (null stays null), which keeps every type exact on the way back.
 */
export function overfullPartitions(table: BatchTable, partitionBy: string[], count: number) {
  const values = sql.join(partitionBy.map((c) => sql`to_jsonb(${col(c)}::text)`));
  const columns = sql.join(partitionBy.map((c) => col(c)));
  return sql<{ values: (string | null)[] }>`
    SELECT jsonb_build_array(${values}) AS values
    FROM ${tableRef(table)} AS t
    GROUP BY ${columns}
    HAVING count(*) > ${count}`;
}

/**
 * The condition "row `t` belongs to this group". Values come back through the table's own row
 * type (`jsonb_populate_record`), so that each has its column's exact type and an index on the
 * group's columns can be used.
 */
function partitionMatch(table: BatchTable, partition: PartitionValues): RawBuilder<unknown> {
  const record = sql`jsonb_populate_record(NULL::${tableRef(table)}, ${partition}::jsonb)`;
  return sql.join(
    Object.entries(partition).map(([column, value]) =>
      value === null
        ? sql`${col(column)} IS NULL`
        : sql`${col(column)} = (${record}).${sql.id(column)}`,
    ),
    sql` AND `,
  );
}

/**
 * The rows of one group beyond its newest `count`, as a batch of candidates. Dated rows
 * (`orderBy` not null) are walked newest first, ties broken by the key, in the order of a plain
 * index on `(group columns, orderBy)` read backwards. Rows without a date count as the oldest:
 * with `undated`, the candidates are those rows beyond the first `count` of them (by key, newest
 * first), `count` being what is left of the group's quota after its dated rows.
 */
export function surplusCandidates(
  table: BatchTable,
  options: {
    partition: PartitionValues;
    orderBy: string;
    count: number;
    limit: number;
    /** Walk the rows whose `orderBy` is null instead of the dated ones. */
    undated: boolean;
    /** For archiving: the date of undated rows (the run's start); omit when not archiving. */
    undatedDate?: Date;
  },
) {
  const { partition, orderBy, count, limit, undated, undatedDate } = options;
  const keysDesc = sql.join(table.key.map((k) => sql`${col(k)} DESC`));
  const date =
    undatedDate === undefined
      ? sql`NULL::timestamptz`
      : sql`coalesce(${col(orderBy)}::timestamptz, ${undatedDate}::timestamptz)`;
  const rows = undated
    ? sql`${col(orderBy)} IS NULL ORDER BY ${keysDesc}`
    : sql`${col(orderBy)} IS NOT NULL ORDER BY ${col(orderBy)} DESC, ${keysDesc}`;
  return sql`
    SELECT ${keyList(table)}, ${date} AS docket_date FROM ${tableRef(table)} AS t
    WHERE ${partitionMatch(table, partition)} AND ${rows}
    OFFSET ${count}
    LIMIT ${limit}`;
}

/** How many dated rows of one group there are, counting no further than `max`. */
export function countDated(
  table: BatchTable,
  partition: PartitionValues,
  orderBy: string,
  max: number,
) {
  return sql<{ count: number }>`
    SELECT count(*)::integer AS count FROM (
      SELECT 1 FROM ${tableRef(table)} AS t
      WHERE ${partitionMatch(table, partition)} AND ${col(orderBy)} IS NOT NULL
      LIMIT ${max}
    ) AS dated`;
}

/**
 * Rows of `doomed` (key columns by name) matched in the table `t`. A single-column key is
 * matched with `= ANY(ARRAY(…))`, which the planner answers with a TID scan (ctid) or an index
 * scan (a primary key) whatever the table's size, never a scan of the whole table.
 */
function matchKeys(table: BatchTable): RawBuilder<unknown> {
  if (table.key.length === 1) {
    const key = table.key[0] as string;
    return sql`${col(key)} = ANY(ARRAY(SELECT ${sql.id("d", key)} FROM doomed AS d))`;
  }
  const keys = keyList(table);
  const doomedKeys = keyList(table, "d");
  return sql`(${keys}) IN (SELECT ${doomedKeys} FROM doomed AS d)`;
}

/** Deletes the candidate rows; returns how many went. */
export function deleteCandidates(table: BatchTable, candidates: RawBuilder<unknown>) {
  return sql<{ deleted: number }>`
    WITH doomed AS (${candidates}),
    deleted AS (
      DELETE FROM ${tableRef(table)} AS t WHERE ${matchKeys(table)} RETURNING 1
    )
    SELECT count(*)::integer AS deleted FROM deleted`;
}

/** How archive tables are dated. */
export type ArchivePeriod = "day" | "month" | "year";

const periodFormats: Record<ArchivePeriod, string> = {
  day: "YYYY_MM_DD",
  month: "YYYY_MM",
  year: "YYYY",
};

/** The archive period (in UTC) of the first candidate: its table suffix and bounds. */
export function firstCandidatePeriod(candidates: RawBuilder<unknown>, period: ArchivePeriod) {
  const start = sql`date_trunc(${period}::text, c.docket_date, 'UTC')`;
  return sql<{ suffix: string; from: Date; until: Date }>`
    SELECT to_char(${start} AT TIME ZONE 'UTC', ${periodFormats[period]}::text) AS suffix,
      ${start} AS from,
      ${start} + ('1 ' || ${period}::text)::interval AS until
    FROM (${candidates}) AS c
    WHERE c.docket_date IS NOT NULL
    LIMIT 1`;
}

/** Creates an archive table shaped like the source (columns and types; no keys or defaults). */
export function createArchiveTable(table: BatchTable, archive: string) {
  return sql`CREATE TABLE IF NOT EXISTS ${sql.id(table.schema, archive)} (LIKE ${tableRef(table)})`;
}

/**
 * Moves the candidate rows dated within `[from, until)` into the archive table, deleting them
 * from the source in the same statement; returns how many moved.
 */
export function archiveCandidates(
  table: BatchTable,
  archive: string,
  candidates: RawBuilder<unknown>,
  within: { from: Date; until: Date },
) {
  const columns = sql.join(table.columns.map((c) => sql.id(c)));
  const returning = sql.join(table.columns.map((c) => col(c)));
  return sql<{ moved: number }>`
    WITH doomed AS (
      SELECT * FROM (${candidates}) AS c
      WHERE c.docket_date >= ${within.from}::timestamptz AND c.docket_date < ${within.until}::timestamptz
    ),
    moved AS (
      DELETE FROM ${tableRef(table)} AS t WHERE ${matchKeys(table)} RETURNING ${returning}
    ),
    archived AS (
      INSERT INTO ${sql.id(table.schema, archive)} (${columns}) SELECT ${columns} FROM moved RETURNING 1
    )
    SELECT count(*)::integer AS moved FROM archived`;
}

/** The database's time now. */
export function databaseNow() {
  return sql<{ now: Date }>`SELECT now() AS now`;
}

/** The name of a cleanup target's lease row in `leaders`, beside the node leadership lease. */
export function cleanupLeaseName(target: string): string {
  return `cleanup:${target}`;
}

/**
 * Takes (or renews) the lease of a cleanup target's run for `holder` if it is free, expired or
 * already `holder`'s; true when `holder` holds it. A lease row, not an advisory lock: a session
 * lock can be left on a server connection behind a pooler in transaction mode, and a lock held
 * by an open transaction would block REINDEX CONCURRENTLY and VACUUM for the whole run.
 */
export function claimCleanupLease(schema: string, target: string, holder: string, ttlMs: number) {
  const leaders = sql.id(schema, "leaders");
  return sql<{ node: string }>`
    INSERT INTO ${leaders} AS l (name, node, elected_at, expires_at)
    VALUES (${cleanupLeaseName(target)}, ${holder}, now(),
      now() + ${ttlMs}::double precision * interval '1 millisecond')
    ON CONFLICT (name) DO UPDATE SET
      node = excluded.node,
      elected_at = CASE WHEN l.node = excluded.node THEN l.elected_at ELSE now() END,
      expires_at = excluded.expires_at
    WHERE l.node = excluded.node OR l.expires_at <= now()
    RETURNING l.node`;
}

/** Gives up a cleanup run's lease if `holder` holds it. */
export function releaseCleanupLease(schema: string, target: string, holder: string) {
  return sql<{ node: string }>`
    DELETE FROM ${sql.id(schema, "leaders")}
    WHERE name = ${cleanupLeaseName(target)} AND node = ${holder}
    RETURNING node`;
}
