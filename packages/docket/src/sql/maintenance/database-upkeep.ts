import { sql } from "kysely";

/**
 * Statements of the DatabaseMaintenance target on docket's own tables. VACUUM, REINDEX
 * CONCURRENTLY and DROP INDEX CONCURRENTLY cannot run inside a transaction: run them with
 * {@link runUtility} in ../database-maintenance.ts, one statement per round trip.
 */

/**
 * The tables among `tables` that exist in `schema`, with what the current role may do to them:
 * `owned` (a member of the owner: may drop their indexes) and `maintainable` (owned, or granted
 * MAINTAIN on PostgreSQL 17 and later: may VACUUM, ANALYZE and REINDEX them).
 */
export function existingTables(schema: string, tables: string[]) {
  return sql<{ name: string; owned: boolean; maintainable: boolean }>`
    SELECT c.relname::text AS name, o.owned,
      o.owned OR CASE WHEN current_setting('server_version_num')::int >= 170000
        THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE false END AS maintainable
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT pg_has_role(c.relowner, 'USAGE') AS owned) o
    WHERE n.nspname = ${schema} AND c.relname = ANY(${tables}::text[]) AND c.relkind IN ('r', 'p')
    ORDER BY array_position(${tables}::text[], c.relname::text)`;
}

/**
 * Invalid indexes left on the tables by an interrupted REINDEX CONCURRENTLY (`<index>_ccnew`,
 * `_ccnew1`…, and the old copies `_ccold…`). They slow every write and serve no read.
 */
export function invalidLeftoverIndexes(schema: string, tables: string[]) {
  return sql<{ name: string; table: string }>`
    SELECT ic.relname::text AS name, tc.relname::text AS table
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class tc ON tc.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = tc.relnamespace
    WHERE n.nspname = ${schema} AND tc.relname = ANY(${tables}::text[])
      AND NOT i.indisvalid AND ic.relname ~ '_cc(new|old)[0-9]*$'
    ORDER BY ic.relname`;
}

/** The valid indexes of the tables, with their size. */
export function tableIndexes(schema: string, tables: string[]) {
  return sql<{ name: string; table: string; bytes: string }>`
    SELECT ic.relname::text AS name, tc.relname::text AS table, pg_relation_size(ic.oid)::text AS bytes
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class tc ON tc.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = tc.relnamespace
    WHERE n.nspname = ${schema} AND tc.relname = ANY(${tables}::text[]) AND i.indisvalid
    ORDER BY tc.relname, ic.relname`;
}

/** Drops an index without blocking writes. */
export function dropIndexConcurrently(schema: string, index: string) {
  return sql`DROP INDEX CONCURRENTLY IF EXISTS ${sql.id(schema, index)}`;
}

/** Rebuilds an index without blocking writes. */
export function reindexConcurrently(schema: string, index: string) {
  return sql`REINDEX INDEX CONCURRENTLY ${sql.id(schema, index)}`;
}

/** VACUUM and/or ANALYZE one table. */
export function vacuumTable(
  schema: string,
  table: string,
  options: { vacuum: boolean; analyze: boolean },
) {
  const target = sql.id(schema, table);
  if (!options.vacuum) return sql`ANALYZE ${target}`;
  return options.analyze ? sql`VACUUM (ANALYZE) ${target}` : sql`VACUUM ${target}`;
}
