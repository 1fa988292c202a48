// One case per database client whose transactions `{ tx }` takes. Each opens the client on a
// test database, runs `work` inside one of its transactions (committed when `work` resolves,
// rolled back when it throws) and writes an application row with the client's own API, so the
// tests see job and data commit or vanish together.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql as drizzleSql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import knex from "knex";
import pg from "pg";
import postgres from "postgres";
import "reflect-metadata";
import { DataSource } from "typeorm";
import type { Transaction } from "../../packages/docket/src/index.js";

/** Writes one row of the application's own table (`orders`) in the transaction. */
export type WriteOrder = (note: string) => Promise<unknown>;

export interface ClientCase {
  name: string;
  open(url: string): Promise<void>;
  /** Runs `work` in a transaction of the client; commits if it resolves, rolls back if not. */
  transaction<T>(work: (tx: Transaction, writeOrder: WriteOrder) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** node-postgres: a PoolClient between BEGIN and COMMIT/ROLLBACK. */
function nodePostgres(name: string, wrap: (client: pg.PoolClient) => Transaction): ClientCase {
  let pool: pg.Pool | undefined;
  return {
    name,
    async open(url) {
      pool = new pg.Pool({ connectionString: url, max: 2 });
    },
    async transaction(work) {
      const client = await (pool as pg.Pool).connect();
      try {
        await client.query("BEGIN");
        const result = await work(wrap(client), (note) =>
          client.query("INSERT INTO orders (note) VALUES ($1)", [note]),
        );
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      } finally {
        client.release();
      }
    },
    close: async () => pool?.end(),
  };
}

function drizzleOnPg(): ClientCase {
  let pool: pg.Pool | undefined;
  let db: ReturnType<typeof drizzlePg> | undefined;
  return {
    name: "Drizzle (node-postgres)",
    async open(url) {
      pool = new pg.Pool({ connectionString: url, max: 2 });
      db = drizzlePg(pool);
    },
    transaction: (work) =>
      (db as NonNullable<typeof db>).transaction((tx) =>
        work(tx, (note) => tx.execute(drizzleSql`INSERT INTO orders (note) VALUES (${note})`)),
      ),
    close: async () => pool?.end(),
  };
}

function drizzleOnPostgresJs(): ClientCase {
  let client: postgres.Sql | undefined;
  let db: ReturnType<typeof drizzlePostgresJs> | undefined;
  return {
    name: "Drizzle (postgres.js)",
    async open(url) {
      client = postgres(url, { max: 2, onnotice: () => {} });
      db = drizzlePostgresJs(client);
    },
    transaction: (work) =>
      (db as NonNullable<typeof db>).transaction((tx) =>
        work(tx, (note) => tx.execute(drizzleSql`INSERT INTO orders (note) VALUES (${note})`)),
      ),
    close: async () => client?.end({ timeout: 5 }),
  };
}

function knexTrx(): ClientCase {
  let db: knex.Knex | undefined;
  return {
    name: "Knex",
    async open(url) {
      db = knex({ client: "pg", connection: url, pool: { min: 0, max: 2 } });
    },
    transaction: (work) =>
      (db as knex.Knex).transaction((trx) => work(trx, (note) => trx("orders").insert({ note }))),
    close: async () => db?.destroy(),
  };
}

function typeOrm(kind: "EntityManager" | "QueryRunner"): ClientCase {
  let source: DataSource | undefined;
  return {
    name: `TypeORM ${kind}`,
    async open(url) {
      source = await new DataSource({ type: "postgres", url, poolSize: 2 }).initialize();
    },
    async transaction(work) {
      const data = source as DataSource;
      const insert = "INSERT INTO orders (note) VALUES ($1)";
      if (kind === "EntityManager") {
        return data.transaction((manager) =>
          work(manager, (note) => manager.query(insert, [note])),
        );
      }
      const runner = data.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        const result = await work(runner, (note) => runner.query(insert, [note]));
        await runner.commitTransaction();
        return result;
      } catch (error) {
        await runner.rollbackTransaction();
        throw error;
      } finally {
        await runner.release();
      }
    },
    close: async () => source?.destroy(),
  };
}

/** The few parts of the generated Prisma client the test uses. */
interface PrismaLike {
  $transaction<T>(work: (tx: PrismaTx) => Promise<T>): Promise<T>;
  $disconnect(): Promise<void>;
}
interface PrismaTx {
  $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown>;
  order: { create(args: { data: { note: string } }): Promise<unknown> };
}

/**
 * Generates the client of prisma/schema.prisma (Prisma 7 needs no query engine: the client
 * compiles queries in WebAssembly and runs them through @prisma/adapter-pg). `generate` never
 * runs the schema engine, so it is pointed at /bin/false rather than fetched.
 */
export function generatePrismaClient(): void {
  const cli = join(here, "../../node_modules/prisma/build/index.js");
  const result = spawnSync(
    process.execPath,
    [cli, "generate", "--schema", join(here, "prisma/schema.prisma")],
    {
      encoding: "utf8",
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false",
        CHECKPOINT_DISABLE: "1",
        CI: "true",
      },
    },
  );
  if (result.status !== 0 || !existsSync(join(here, "prisma/generated/client.ts"))) {
    throw new Error(`prisma generate failed: ${result.stderr || result.stdout}`);
  }
}

function prismaTx(): ClientCase {
  let prisma: PrismaLike | undefined;
  return {
    name: "Prisma (adapter-pg)",
    async open(url) {
      // Generated at test time (not committed), so imported by a path tsc does not follow.
      const path = "./prisma/generated/client.js";
      const { PrismaClient } = (await import(path)) as {
        PrismaClient: new (options: { adapter: unknown }) => PrismaLike;
      };
      const { PrismaPg } = await import("@prisma/adapter-pg");
      prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
    },
    transaction: (work) =>
      (prisma as PrismaLike).$transaction((tx) =>
        work(tx, (note) => tx.order.create({ data: { note } })),
      ),
    close: async () => prisma?.$disconnect(),
  };
}

/** Every client, in the order the docs list them. */
export const clientCases: ClientCase[] = [
  nodePostgres("node-postgres PoolClient", (client) => client),
  drizzleOnPg(),
  drizzleOnPostgresJs(),
  knexTrx(),
  prismaTx(),
  typeOrm("EntityManager"),
  typeOrm("QueryRunner"),
  // The documented generic shape: query(text, values) resolving to the rows themselves.
  nodePostgres("generic { query(text, values) }", (client) => ({
    query: async (text: string, values: unknown[]) => (await client.query(text, values)).rows,
  })),
];
