import { afterAll, beforeAll, expect, test } from "vitest";
import { newClient, useTestDatabase } from "../../../../test/support/database.js";
import { waitFor } from "../../../../test/support/wait.js";
import { PoolerError } from "../errors.js";
import { ListenConnection } from "./listen-connection.js";
import { listenReliably } from "./listener.js";

const db = useTestDatabase();
let other: { url: string; drop: () => Promise<void> };

beforeAll(async () => {
  // A second database on the same server: a NOTIFY there never reaches a LISTEN here.
  const name = `${db.name}_other`;
  await db.sql`CREATE DATABASE ${db.sql(name)}`;
  const url = new URL(db.url);
  url.pathname = `/${name}`;
  other = {
    url: url.toString(),
    drop: async () => {
      await db.sql`DROP DATABASE IF EXISTS ${db.sql(name)} WITH (FORCE)`;
    },
  };
});
afterAll(() => other.drop());

const listenBackends = () =>
  db.sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity
    WHERE application_name = 'docket listen' AND datname = current_database()`;

test("the LISTEN runs on a connection of docket's own, which comes back after it is killed", async () => {
  const sql = newClient(db.url);
  const connection = new ListenConnection(db.url, sql);
  const received: string[] = [];
  const errors: unknown[] = [];
  let subscriptions = 0;
  const listener = await listenReliably(connection, "chan", (p) => received.push(p), {
    checkIntervalMs: 200,
    onListen: () => subscriptions++,
    onError: (error) => errors.push(error),
  });
  try {
    await sql.notify("chan", "before");
    await waitFor(() => received.includes("before"), { what: "the first message" });
    const [backend] = await listenBackends();
    expect(backend).toBeDefined();
    await db.sql`SELECT pg_terminate_backend(${backend?.pid as number})`;
    await waitFor(() => subscriptions >= 2, { what: "the LISTEN to come back" });
    await sql.notify("chan", "after");
    await waitFor(() => received.includes("after"), { what: "a message after the recovery" });
    expect(received.filter((p) => p.startsWith("docket ping"))).toEqual([]);
  } finally {
    await listener.unlisten();
    await connection.end();
    await sql.end();
  }
});

test("renew() replaces the connection and LISTENs again on every channel", async () => {
  const sql = newClient(db.url);
  const connection = new ListenConnection(db.url, sql);
  const got: string[] = [];
  let relistened = 0;
  const a = await connection.listen(
    "a",
    (p) => got.push(`a:${p}`),
    () => relistened++,
  );
  const b = await connection.listen(
    "b",
    (p) => got.push(`b:${p}`),
    () => relistened++,
  );
  try {
    const [before] = await listenBackends();
    await connection.renew(connection.generation);
    expect(relistened).toBe(4);
    const [after] = await waitFor(async () => {
      const rows = await listenBackends();
      return rows.length === 1 && rows[0]?.pid !== before?.pid && rows;
    });
    expect(after?.pid).not.toBe(before?.pid);
    await sql.notify("a", "1");
    await sql.notify("b", "2");
    await waitFor(() => got.length === 2, { what: "both channels" });
    expect(got.sort()).toEqual(["a:1", "b:2"]);
    // A stale generation (another subscription renewed first) changes nothing.
    await connection.renew(connection.generation - 1);
    expect(relistened).toBe(4);
  } finally {
    await a.unlisten();
    await b.unlisten();
    await connection.end();
    await sql.end();
  }
});

test("a LISTEN that never hears its own ping fails at once, naming the listen option", async () => {
  const sql = newClient(db.url);
  const elsewhere = newClient(other.url);
  // Pings go to another database, as a pooler that drops the LISTEN would leave them unheard.
  const connection = new ListenConnection(db.url, elsewhere);
  try {
    const error = await listenReliably(connection, "deaf", () => {}, {
      checkIntervalMs: 300,
      onError: () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolerError);
    expect((error as PoolerError).option).toBe("listen");
    expect((error as Error).message).toMatch(/did not hear its own NOTIFY.*set listen to a direct/);
  } finally {
    await connection.end();
    await elsewhere.end();
    await sql.end();
  }
});
