import type { Sql, TransactionSql } from "postgres";
import { type Executor, type KyselyExecutor, TextExecutor } from "../sql/executor.js";

/**
 * The transactions `{ tx }` takes, by the shape each client gives them. Each is run on as it is
 * (the caller's connection, never a second one); the structural types below keep docket free of
 * any client as a dependency. See docs/clients.md.
 */

/**
 * node-postgres `Client` / `PoolClient` (after `BEGIN`), a TypeORM `QueryRunner` or transactional
 * `EntityManager`, or anything of your own: `query(text, values)` with `$1`-style parameters,
 * resolving to the rows or to `{ rows }`.
 *
 * @example
 * ```ts
 * const client = await pool.connect();
 * await client.query("BEGIN");
 * await queue.insert(sendEmail, { to: "a@b.c" }, { tx: client });
 * await client.query("COMMIT");
 * ```
 */
export interface QueryTransaction {
  query(text: string, values: unknown[]): Promise<unknown>;
}

/**
 * A Knex transaction (`await knex.transaction()` or the `trx` of `knex.transaction(async (trx) => …)`).
 *
 * @example
 * ```ts
 * await knex.transaction((trx) => queue.insert(sendEmail, { to: "a@b.c" }, { tx: trx }));
 * ```
 */
export interface KnexTransaction {
  isTransaction?: boolean;
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>;
}

/**
 * The client of a Prisma interactive transaction (`prisma.$transaction(async (tx) => …)`), e.g.
 * with `@prisma/adapter-pg`.
 *
 * @example
 * ```ts
 * await prisma.$transaction((tx) => queue.insert(sendEmail, { to: "a@b.c" }, { tx }));
 * ```
 */
export interface PrismaTransaction {
  $queryRawUnsafe(query: string, ...values: unknown[]): PromiseLike<unknown>;
}

/**
 * A Drizzle transaction (`db.transaction(async (tx) => …)`) on node-postgres or postgres.js.
 *
 * @example
 * ```ts
 * await db.transaction((tx) => queue.insert(sendEmail, { to: "a@b.c" }, { tx }));
 * ```
 */
export interface DrizzleTransaction {
  readonly _: { readonly session: unknown };
  rollback(): never;
}

/**
 * Every transaction `{ tx }` takes: postgres.js, Kysely, and the shapes above.
 *
 * @example
 * ```ts
 * async function placeOrder(tx: Transaction, order: Order) {
 *   await queue.insert(sendReceipt, { orderId: order.id }, { tx });
 * }
 * ```
 */
export type Transaction =
  | Sql
  | TransactionSql
  | KyselyExecutor
  | DrizzleTransaction
  | KnexTransaction
  | PrismaTransaction
  | QueryTransaction;

/** What `{ tx }` takes, for error messages. */
export const supportedTransactions =
  "a postgres.js sql.begin() transaction, a Kysely transaction, a node-postgres Client or " +
  "PoolClient inside BEGIN, a Drizzle, Knex or Prisma transaction, a TypeORM EntityManager or " +
  "QueryRunner, or an object with query(text, values) returning rows (see docs/clients.md)";

/** Why a value is not a transaction docket can insert in, or the executor that runs on it. */
export type AdaptedTransaction = { executor: Executor } | { problem: string };

type Dict = Record<string, unknown>;

const isFunction = (value: unknown): value is (...args: never[]) => unknown =>
  typeof value === "function";

/** The rows of a driver's result: an array of rows, or `{ rows }` (node-postgres and kin). */
function rowsOf(result: unknown, client: string): readonly unknown[] {
  if (Array.isArray(result)) return result;
  const rows = (result as { rows?: unknown } | null)?.rows;
  if (Array.isArray(rows)) return rows;
  throw new TypeError(`tx: ${client} query() returned neither rows nor { rows }`);
}

const isScalar = (value: unknown) => value === null || typeof value !== "object";

/**
 * Parameters as every driver takes them: docket casts each one in its SQL, and drivers differ on
 * objects (node-postgres turns an array of objects into an array literal, Prisma and Drizzle's
 * postgres.js send objects as they are). So arrays of scalars (text[]) stay arrays and other
 * objects go as JSON text (jsonb).
 */
function textValues(values: readonly unknown[]): unknown[] {
  return values.map((value) => {
    if (isScalar(value) || value instanceof Date) return value;
    if (Array.isArray(value) && value.every(isScalar)) return value;
    return JSON.stringify(value);
  });
}

/** Knex binds `?`; docket's SQL numbers its parameters `$1`… (each used once, in order). */
function knexText(text: string, values: readonly unknown[]): [string, unknown[]] {
  const bindings: unknown[] = [];
  const rewritten = text.replace(/\?/g, "\\?").replace(/\$(\d+)/g, (_, n: string) => {
    bindings.push(values[Number(n) - 1]);
    return "?";
  });
  return [rewritten, bindings];
}

function queryExecutor(client: QueryTransaction, name: string): TextExecutor {
  return new TextExecutor(async (text, values) =>
    rowsOf(await client.query(text, textValues(values)), name),
  );
}

function fromDrizzle(value: Dict): AdaptedTransaction | undefined {
  const inner = value._ as { session?: { client?: unknown } } | undefined;
  if (!inner || typeof inner !== "object" || !inner.session) return undefined;
  if (!isFunction(value.rollback)) {
    return { problem: "a Drizzle database is not a transaction: pass the tx of db.transaction()" };
  }
  const client = inner.session.client;
  if (isFunction(client) && isFunction((client as Partial<Sql>).unsafe)) {
    // Drizzle sets postgres.js's json serialisers to pass values through as they are.
    const sql = client as TransactionSql;
    return {
      executor: new TextExecutor(
        async (text, values) => await sql.unsafe(text, textValues(values) as never[]),
      ),
    };
  }
  if (client && isFunction((client as Partial<QueryTransaction>).query)) {
    return { executor: queryExecutor(client as QueryTransaction, "Drizzle's") };
  }
  return {
    problem:
      "a Drizzle transaction on a driver docket does not know (use node-postgres or postgres.js)",
  };
}

function fromKnex(value: Dict): AdaptedTransaction | undefined {
  if (!isFunction(value.raw) || !("client" in value)) return undefined;
  if (value.isTransaction !== true) {
    return { problem: "a Knex instance is not a transaction: pass the trx of knex.transaction()" };
  }
  const trx = value as unknown as KnexTransaction;
  return {
    executor: new TextExecutor(async (text, values) => {
      const [rewritten, bindings] = knexText(text, textValues(values));
      return rowsOf(await trx.raw(rewritten, bindings), "Knex's");
    }),
  };
}

function fromPrisma(value: Dict): AdaptedTransaction | undefined {
  if (!isFunction(value.$queryRawUnsafe)) return undefined;
  // An interactive transaction's client lacks $connect/$disconnect (it may nest $transaction).
  if (isFunction(value.$disconnect)) {
    return {
      problem:
        "a PrismaClient is not a transaction: pass the tx of prisma.$transaction(async (tx) => …)",
    };
  }
  const tx = value as unknown as PrismaTransaction;
  return {
    executor: new TextExecutor(async (text, values) =>
      rowsOf(await tx.$queryRawUnsafe(text, ...textValues(values)), "Prisma's"),
    ),
  };
}

function fromTypeOrm(value: Dict): AdaptedTransaction | undefined {
  // An EntityManager runs each query on a pool connection of its own unless it belongs to a
  // QueryRunner (dataSource.transaction() gives one that does).
  if (!("connection" in value) || !isFunction(value.query)) return undefined;
  const isManager = isFunction(value.transaction) && isFunction(value.getRepository);
  if (isManager && !value.queryRunner) {
    return {
      problem:
        "a TypeORM EntityManager without a QueryRunner runs on any pool connection: pass the manager of dataSource.transaction() or a QueryRunner",
    };
  }
  if (!isManager && !("isTransactionActive" in value)) return undefined;
  return { executor: queryExecutor(value as unknown as QueryTransaction, "TypeORM's") };
}

function fromQuery(value: Dict): AdaptedTransaction | undefined {
  if (!isFunction(value.query)) return undefined;
  // node-postgres's Pool runs each query on whichever connection is free.
  if ("totalCount" in value && "idleCount" in value) {
    return {
      problem:
        "a node-postgres Pool is not a transaction: pass the client of pool.connect() after BEGIN",
    };
  }
  return { executor: queryExecutor(value as unknown as QueryTransaction, "the client's") };
}

/**
 * Tells how docket runs on a caller's transaction, or why it cannot. postgres.js and Kysely run
 * as they are; the other clients through a {@link TextExecutor} that sends docket's statement as
 * text and parameters on the transaction's own connection.
 *
 * @example
 * ```ts
 * const adapted = adaptTransaction(trx);
 * if ("problem" in adapted) throw new InsertError(`tx: ${adapted.problem}`);
 * await run(adapted.executor, selectJob(schema, id));
 * ```
 */
export function adaptTransaction(value: unknown): AdaptedTransaction {
  if (isFunction(value)) {
    if (isFunction((value as Partial<Sql>).unsafe)) return { executor: value as unknown as Sql };
    const knex = fromKnex(value as unknown as Dict);
    if (knex) return knex;
  } else if (typeof value === "object" && value !== null) {
    if (value instanceof TextExecutor) return { executor: value };
    const dict = value as Dict;
    if (isFunction(dict.executeQuery)) return { executor: value as KyselyExecutor };
    const adapted = fromDrizzle(dict) ?? fromPrisma(dict) ?? fromTypeOrm(dict) ?? fromQuery(dict);
    if (adapted) return adapted;
  }
  return { problem: `must be ${supportedTransactions}` };
}
