import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Sql } from "postgres";
import { MigrationError } from "../errors.js";
import { checkIdentifier } from "../validation/identifiers.js";
import { migrationsDir } from "./migrator.js";

/** A file of docket's migrations directory (see {@link migrationsDir}). */
function migrationFile(relative: string): string {
  try {
    return readFileSync(join(migrationsDir(), relative), "utf8");
  } catch (error) {
    throw new MigrationError(`docket's migration file ${relative} is missing from the package`, {
      cause: error,
    });
  }
}

/** `flow_claim` as migration 0007 defines it: the layout re-creates it on the new `jobs`. */
function flowClaimDefinition(): string {
  const text = migrationFile("0007_flow_control.up.sql");
  const match = /^CREATE FUNCTION flow_claim\b[\s\S]*?^\$\$;$/m.exec(text);
  if (!match) throw new MigrationError("migration 0007 no longer defines flow_claim");
  return match[0];
}

/**
 * Prototype of `partitioned: true` (docs/scaling.md): replaces the empty `jobs` table of a schema
 * migrated to the latest migration by the partitioned layout, in one transaction.
 *
 * @throws MigrationError when the schema's jobs table holds rows (the online path is not built).
 * @example
 * ```ts
 * await new Migrator(sql, "docket").up();
 * await applyPartitionedLayout(sql, "docket");
 * ```
 */
export async function applyPartitionedLayout(sql: Sql, schema: string): Promise<void> {
  checkIdentifier(schema, "schema");
  const layout = migrationFile("partitioned/layout.sql");
  const flowClaim = flowClaimDefinition();
  try {
    await sql.begin(async (tx) => {
      await tx`SELECT set_config('search_path', quote_ident(${schema}), true)`;
      await tx.unsafe(layout);
      await tx.unsafe(flowClaim);
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`partitioned layout failed in schema "${schema}": ${reason}`, {
      cause: error,
    });
  }
}
