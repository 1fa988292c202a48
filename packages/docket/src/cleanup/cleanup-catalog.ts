import { ConfigError } from "../errors.js";
import { type Executor, run } from "../sql/executor.js";
import {
  type BatchTable,
  type ColumnInfo,
  describeTable,
  type TableInfoRow,
} from "../sql/maintenance/cleanup.js";
import { isSystemSchema } from "../validation/identifiers.js";
import type { CleanupTarget } from "./define-target.js";

/**
 * Checks a cleanup target's table and columns against the catalog and describes the table for
 * the statements that delete its rows. Undefined for a target without a table. A table in a
 * system schema or in docket's own schema (`docketSchema`) is refused: docket's tables have
 * their own built-in targets, and cleaning the catalogs would break the database.
 *
 * @throws ConfigError naming the target and everything wrong with it.
 */
export async function resolveTargetTable(
  executor: Executor,
  target: CleanupTarget,
  docketSchema: string,
): Promise<BatchTable | undefined> {
  if (!target.table) return undefined;
  const { schema, name } = target.table;
  const where = `cleanup.${target.name}`;
  const shown = schema === undefined ? name : `${schema}.${name}`;
  if (schema !== undefined) refuseSchema(where, shown, schema, docketSchema);
  const [row] = await run(executor, describeTable(schema, name));
  if (!row) {
    const place = schema === undefined ? "on the search path" : `in schema ${schema}`;
    throw new ConfigError(`${where}: table "${shown}" does not exist ${place}`, {
      path: `${where}.table`,
    });
  }
  refuseSchema(where, shown, row.schema, docketSchema);
  const problems = tableProblems(target, row);
  if (problems.length > 0) {
    throw new ConfigError(`${where}: ${problems.join("; ")}`, { path: where });
  }
  const key = row.primary_key && row.primary_key.length > 0 ? row.primary_key : ["ctid"];
  return Object.freeze({
    schema: row.schema,
    name: row.name,
    columns: row.columns.map((c) => c.name),
    key,
  });
}

/** Throws when `schema` is a system schema or docket's own. */
function refuseSchema(where: string, shown: string, schema: string, docketSchema: string): void {
  if (isSystemSchema(schema)) {
    throw new ConfigError(
      `${where}: table "${shown}" is in PostgreSQL's system schema ${schema}, which cleanup never touches`,
      { path: `${where}.table` },
    );
  }
  if (schema === docketSchema) {
    throw new ConfigError(
      `${where}: table "${shown}" is in docket's own schema ${schema}; docket's tables are cleaned by the built-in targets (Jobs, JobArchive, Producers)`,
      { path: `${where}.table` },
    );
  }
}

/** What the catalog says against the target, one message per problem. */
function tableProblems(target: CleanupTarget, row: TableInfoRow): string[] {
  const table = `${row.schema}.${row.name}`;
  if (row.kind !== "r" && row.kind !== "p") return [`"${table}" is not a table`];
  const columns = new Map<string, ColumnInfo>(row.columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  const known = row.columns.map((c) => c.name).join(", ");
  const need = (option: string, column: string, dated: boolean) => {
    const info = columns.get(column);
    if (!info) {
      problems.push(`${option}: table ${table} has no column "${column}" (it has ${known})`);
    } else if (dated && info.category !== "D") {
      problems.push(
        `${option}: column "${column}" of ${table} must be a date or time, but is ${info.type}`,
      );
    }
  };
  const { strategy } = target;
  if (strategy.kind === "maxAge") need("maxAge.column", strategy.column, true);
  if (strategy.kind === "expired") need("expired.column", strategy.column, true);
  if (strategy.kind === "keepLatest") {
    for (const column of strategy.partitionBy) need("keepLatest.partitionBy", column, false);
    // Archive tables are dated by orderBy.
    need("keepLatest.orderBy", strategy.orderBy, target.archive !== undefined);
  }
  const hasKey = row.primary_key !== null && row.primary_key.length > 0;
  if (row.kind === "p" && !hasKey && strategy.kind !== "custom") {
    problems.push(
      `${table} is partitioned and has no primary key, which batches need to pick rows`,
    );
  }
  return problems;
}
