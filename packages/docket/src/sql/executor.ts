import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RawBuilder,
} from "kysely";
import type { Sql, TransactionSql } from "postgres";

/**
 * Compiles docket's SQL. Queries are written as Kysely `sql` templates (identifiers through
 * `sql.id`, values as parameters) and run on whatever connection the caller has: docket's own
 * postgres.js pool, a postgres.js transaction, or a Kysely transaction.
 */
const compiler = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** Anything that can run a compiled query: a Kysely instance or transaction. */
export interface KyselyExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<{ rows: R[] }>;
}

/** A connection docket can run its statements on. */
export type Executor = Sql | TransactionSql | KyselyExecutor;

function isKysely(executor: Executor): executor is KyselyExecutor {
  return typeof (executor as Partial<KyselyExecutor>).executeQuery === "function";
}

/** Tells whether a value looks like a postgres.js `sql` or a Kysely instance or transaction. */
export function isExecutor(value: unknown): value is Executor {
  if (typeof value === "function") return typeof (value as Partial<Sql>).unsafe === "function";
  return typeof value === "object" && value !== null && isKysely(value as Executor);
}

/** Compiles a query once, for callers that run the same text many times. */
export function compile<R>(query: RawBuilder<R>): CompiledQuery<R> {
  return query.compile(compiler);
}

/** Runs one statement and returns its rows. Statements are prepared by the driver. */
export async function run<R>(executor: Executor, query: RawBuilder<R>): Promise<R[]> {
  const compiled = query.compile(compiler);
  if (isKysely(executor)) return (await executor.executeQuery(compiled)).rows;
  const params = compiled.parameters as never[];
  return (await executor.unsafe(compiled.sql, params, { prepare: true })) as unknown as R[];
}
