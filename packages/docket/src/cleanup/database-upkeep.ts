import type { RawBuilder } from "kysely";
import type { Sql } from "postgres";
import { readLayout } from "../db/partitioned-layout.js";
import { compile, run } from "../sql/executor.js";
import {
  dropIndexConcurrently,
  existingTables,
  invalidLeftoverIndexes,
  reindexConcurrently,
  tableIndexes,
  vacuumTable,
} from "../sql/maintenance/database-upkeep.js";
import type { JsonValue } from "../types.js";
import type { Duration } from "../validation/duration.js";
import { type CleanupTarget, defineCleanupTarget } from "./define-target.js";

/** docket's own tables, the default of {@link DatabaseMaintenanceOptions.tables}. */
export const docketTables = [
  "jobs",
  "producers",
  "leaders",
  "queues",
  "cron_entries",
  "cron_slots",
];

/** Options of {@link databaseMaintenanceTarget}. */
export interface DatabaseMaintenanceOptions {
  /** VACUUM each table. Default true. */
  vacuum?: boolean;
  /** ANALYZE each table (with the VACUUM when both are on). Default true. */
  analyze?: boolean;
  /** REINDEX INDEX CONCURRENTLY every index of the tables. Default true. */
  reindex?: boolean;
  /** Drop invalid `_ccnew` / `_ccold` indexes an interrupted reindex left behind. Default true. */
  dropInvalidIndexes?: boolean;
  /** Tables of docket's schema to look after. Default: all of docket's tables. */
  tables?: string[];
  /** When it runs on its own (cron). Default: never. */
  schedule?: string;
  timeout?: Duration;
}

/**
 * Runs a statement that must not be inside a transaction (VACUUM, REINDEX CONCURRENTLY): alone,
 * over the simple query protocol. It carries no parameters: names are escaped identifiers.
 */
async function runUtility(sql: Sql, query: RawBuilder<unknown>): Promise<void> {
  const compiled = compile(query);
  if (compiled.parameters.length > 0) throw new Error("a utility statement cannot take parameters");
  // VACUUM and REINDEX run as long as the tables need: docket's statementTimeout and
  // lockTimeout are lifted on the connection for this statement, then restored.
  const connection = await sql.reserve();
  try {
    await connection.unsafe("SET statement_timeout = 0; SET lock_timeout = 0").simple();
    await connection.unsafe(compiled.sql).simple();
  } finally {
    await connection
      .unsafe("RESET statement_timeout; RESET lock_timeout")
      .simple()
      .catch(() => undefined);
    connection.release();
  }
}

/**
 * The built-in `DatabaseMaintenance` target: on docket's tables, drops the invalid leftovers of
 * an interrupted REINDEX CONCURRENTLY, rebuilds each index with REINDEX INDEX CONCURRENTLY (no
 * write is blocked), then runs VACUUM (ANALYZE). Steps run one at a time; the timeout stops it
 * between steps. Every queue has it with the defaults; pass your own to `cleanup` to change them.
 *
 * @example
 * ```ts
 * new Queue({ connection, cleanup: [databaseMaintenanceTarget({ reindex: false, schedule: "0 3 * * 0" })] });
 * ```
 */
export function databaseMaintenanceTarget(options: DatabaseMaintenanceOptions = {}): CleanupTarget {
  const { vacuum = true, analyze = true, reindex = true, dropInvalidIndexes = true } = options;
  const wanted = [...(options.tables ?? docketTables)];
  return defineCleanupTarget({
    name: "DatabaseMaintenance",
    description:
      "VACUUM / ANALYZE and REINDEX CONCURRENTLY of docket's tables; drops invalid leftover indexes",
    ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    async run(ctx) {
      // Partitioned, the live partition is what churns (finished days are written once and
      // dropped), and the unique keys' side table with it.
      const names =
        (await readLayout(ctx.sql, ctx.schema)) === "partitioned"
          ? wanted.flatMap((t) => (t === "jobs" ? ["jobs_live", "job_unique_keys"] : [t]))
          : wanted;
      const found = await run(ctx.sql, existingTables(ctx.schema, names));
      // What the role may not do is skipped, not failed: a running node's role need not own
      // docket's tables (docs/security.md).
      const tables = found.filter((t) => t.maintainable).map((t) => t.name);
      const owned = found.filter((t) => t.owned).map((t) => t.name);
      const details: Record<string, JsonValue> = { tables };
      const skipped = found.filter((t) => !t.maintainable).map((t) => t.name);
      if (skipped.length > 0) {
        details.skipped = skipped;
        ctx.logger.warn("docket DatabaseMaintenance skipped tables it may not maintain", {
          tables: skipped,
          hint: "run it as the tables' owner, or GRANT MAINTAIN (PostgreSQL 17+)",
        });
      }
      const dropped: string[] = [];
      const reindexed: string[] = [];
      const vacuumed: string[] = [];
      const stopped = () => {
        Object.assign(details, { droppedIndexes: dropped, reindexed, vacuumed });
        return { deleted: 0, details, complete: false };
      };
      if (dropInvalidIndexes) {
        for (const index of await run(ctx.sql, invalidLeftoverIndexes(ctx.schema, owned))) {
          if (ctx.shouldStop()) return stopped();
          await runUtility(ctx.sql, dropIndexConcurrently(ctx.schema, index.name));
          dropped.push(index.name);
        }
      }
      if (reindex) {
        for (const index of await run(ctx.sql, tableIndexes(ctx.schema, tables))) {
          if (ctx.shouldStop()) return stopped();
          await runUtility(ctx.sql, reindexConcurrently(ctx.schema, index.name));
          reindexed.push(index.name);
        }
      }
      if (vacuum || analyze) {
        for (const table of tables) {
          if (ctx.shouldStop()) return stopped();
          await runUtility(ctx.sql, vacuumTable(ctx.schema, table, { vacuum, analyze }));
          vacuumed.push(table);
        }
      }
      Object.assign(details, {
        droppedIndexes: dropped,
        reindexed,
        [vacuum ? "vacuumed" : "analyzed"]: vacuumed,
      });
      return { deleted: 0, details };
    },
  });
}
