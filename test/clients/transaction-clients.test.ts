// `{ tx }` with every common client, against real PostgreSQL: the job commits with the
// application's data, vanishes with it on rollback, and no worker sees it before the commit.

import { drizzle } from "drizzle-orm/node-postgres";
import knex from "knex";
import pg from "pg";
import { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defineWorker, InsertError } from "../../packages/docket/src/index.js";
import { useTestDatabase } from "../support/database.js";
import { queueFactory } from "../support/queues.js";
import { nextEvent } from "../support/wait.js";
import { clientCases, generatePrismaClient } from "./client-cases.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const record = defineWorker({
  name: "clients.record",
  queue: "clients",
  async perform() {},
});
const once = defineWorker({
  name: "clients.once",
  queue: "clients",
  unique: { period: "1h", keys: ["key"] },
  async perform() {},
});

beforeAll(async () => {
  generatePrismaClient();
  await db.sql`CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)`;
});

const orders = async (note: string) =>
  (await db.sql`SELECT count(*)::int AS n FROM orders WHERE note = ${note}`)[0]?.n as number;
const stored = (ids: string[]) =>
  db.sql<{ id: string; args: Record<string, unknown> }[]>`
    SELECT j.id::text, j.args FROM docket.jobs AS j WHERE j.id = ANY(${ids}::bigint[]) ORDER BY j.id`;

describe.each(clientCases.map((client, n) => ({ ...client, queue: `clients_${n}` })))(
  "$name",
  (client) => {
    beforeAll(() => client.open(db.url));
    afterAll(() => client.close());

    test("commit: the jobs (plain and unique) exist with their args, beside the data", async () => {
      const queue = makeQueue();
      const note = `commit ${client.name}`;
      const key = `key ${client.name}`;
      const [many, first, again] = await client.transaction(async (tx, writeOrder) => {
        await writeOrder(note);
        const many = await queue.insertMany(record, [{ n: 1 }, { n: 2, note }], { tx });
        const first = await queue.insert(once, { key }, { tx });
        const again = await queue.insert(once, { key }, { tx });
        return [many, first, again] as const;
      });
      expect(await orders(note)).toBe(1);
      expect(await stored(many.map((j) => j.id))).toEqual([
        { id: many[0]?.id, args: { n: 1 } },
        { id: many[1]?.id, args: { n: 2, note } },
      ]);
      expect(first.conflict).toBe(false);
      expect(again).toMatchObject({ id: first.id, conflict: true });
      expect(await stored([first.id])).toEqual([{ id: first.id, args: { key } }]);
    });

    test("rollback: neither job nor data is left", async () => {
      const queue = makeQueue();
      const note = `rollback ${client.name}`;
      const ids: string[] = [];
      await expect(
        client.transaction(async (tx, writeOrder) => {
          await writeOrder(note);
          ids.push((await queue.insert(record, { n: 3 }, { tx })).id);
          ids.push((await queue.insert(once, { key: `rb ${client.name}` }, { tx })).id);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(ids).toHaveLength(2);
      expect(await stored(ids)).toEqual([]);
      expect(await orders(note)).toBe(0);
    });

    test("a running worker does not see the job before the commit, and runs it after", async () => {
      // A queue of its own: the jobs the other tests committed wait in "clients".
      const queue = makeQueue({ queues: { [client.queue]: 1 }, workers: [record, once] });
      await queue.start();
      const ran: string[] = [];
      queue.on("job:complete", ({ job }) => ran.push(job.id));
      const completed = (id: string) =>
        nextEvent(queue, "job:complete", ({ job }) => job.id === id);
      const inside = await client.transaction(async (tx) => {
        const job = await queue.insert(record, { n: 4 }, { tx, queue: client.queue });
        // A later job, committed now: the worker fetches in id order, so had it seen the first
        // one it would have run that one first.
        const probe = await queue.insert(record, { probe: true }, { queue: client.queue });
        await completed(probe.id);
        expect(ran).toEqual([probe.id]);
        return job;
      });
      await completed(inside.id);
      expect(ran).toEqual([expect.any(String), inside.id]);
    });
  },
);

describe("what is not a transaction is refused, naming what is supported", () => {
  test("pools and databases run on a second connection; other values are not clients", async () => {
    const queue = makeQueue();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const k = knex({ client: "pg", connection: db.url, pool: { min: 0, max: 1 } });
    const source = new DataSource({ type: "postgres", url: db.url, poolSize: 1 });
    try {
      const refused = async (tx: unknown) => {
        const error = await queue
          .insert(record, { n: 0 }, { tx: tx as never })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InsertError);
        return (error as Error).message;
      };
      expect(await refused(pool)).toMatch(/node-postgres Pool is not a transaction.*pool\.connect/);
      expect(await refused(k)).toMatch(/Knex instance is not a transaction.*knex\.transaction/);
      expect(await refused(source.manager)).toMatch(/EntityManager without a QueryRunner/);
      expect(await refused(drizzle(pool))).toMatch(/Drizzle database is not a transaction/);
      const message = await refused({ execute: () => {} });
      for (const name of ["postgres.js", "Kysely", "node-postgres", "Drizzle", "Knex", "Prisma"]) {
        expect(message).toContain(name);
      }
      expect(message).toMatch(/query\(text, values\).*docs\/clients\.md/);
      expect(await db.sql`SELECT 1 FROM docket.jobs WHERE args = '{"n":0}'`).toHaveLength(0);
    } finally {
      await pool.end();
      await k.destroy();
    }
  });
});
