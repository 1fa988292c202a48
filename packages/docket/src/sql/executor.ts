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

/**
 * A connection that takes SQL text with `$1`-style parameters and returns rows: how docket runs
 * on the transactions of other clients (node-postgres, Drizzle, Knex, Prisma, TypeORM), each
 * adapted to this one function (see db/transaction-adapters.ts).
 *
 * @example
 * ```ts
 * const executor = new TextExecutor(async (text, values) => (await client.query(text, values)).rows);
 * await run(executor, selectJob(schema, id));
 * ```
 */
export class TextExecutor {
  /** @param query runs one statement on the caller's connection and returns its rows */
  constructor(
    readonly query: (text: string, values: readonly unknown[]) => Promise<readonly unknown[]>,
  ) {}
}

/** A connection docket can run its statements on. */
export type Executor = Sql | TransactionSql | KyselyExecutor | TextExecutor;

function isKysely(executor: Executor): executor is KyselyExecutor {
  return typeof (executor as Partial<KyselyExecutor>).executeQuery === "function";
}

/** Compiles a query once, for callers that run the same text many times. */
export function compile<R>(query: RawBuilder<R>): CompiledQuery<R> {
  return query.compile(compiler);
}

/**
 * Times a statement on docket's own pool is sent again after a serialization failure (SQLSTATE
 * 40001). On the partitioned layout a statement that meets a row a concurrent transaction moved
 * to another partition fails so instead of skipping it (docs/scaling.md); the statement ran in a
 * transaction of its own, which rolled back whole, so sending it again is safe. Inside a
 * transaction (the caller's or docket's) the error goes to the transaction's owner.
 */
const serializationRetries = 5;

/** Runs one statement and returns its rows. Statements are prepared by the driver. */
export async function run<R>(executor: Executor, query: RawBuilder<R>): Promise<R[]> {
  const compiled = query.compile(compiler);
  if (executor instanceof TextExecutor) {
    return (await executor.query(compiled.sql, compiled.parameters)) as R[];
  }
  if (isKysely(executor)) return (await executor.executeQuery(compiled)).rows;
  const params = compiled.parameters as never[];
  const pooled = typeof (executor as Partial<TransactionSql>).savepoint !== "function";
  for (let attempt = 1; ; attempt++) {
    try {
      return (await executor.unsafe(compiled.sql, params, { prepare: true })) as unknown as R[];
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (!pooled || code !== "40001" || attempt > serializationRetries) throw error;
    }
  }
}
