// A schema of a test's own, migrated, on either layout of the jobs table.

import type { Sql } from "postgres";
import { Migrator } from "../../packages/docket/src/db/migrator.js";

/** Migrates `schema` from scratch; `partitioned` then swaps in the partitioned jobs table. */
export async function migrateSchema(
  sql: Sql,
  schema: string,
  layout: "plain" | "partitioned",
): Promise<void> {
  const migrator = new Migrator(sql, schema);
  await migrator.up();
  if (layout === "partitioned") await migrator.partition();
}
