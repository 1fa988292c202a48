import { expect, test } from "vitest";
import { newClient, useTestDatabase } from "./support/database.js";

const db = useTestDatabase();
const other = useTestDatabase();

test("the database is migrated like the template", async () => {
  const [jobs] = await db.sql<{ table: string | null }[]>`
    SELECT to_regclass('docket.jobs')::text AS table`;
  expect(jobs?.table).toBe("docket.jobs");

  const migrations = await db.sql<{ version: number }[]>`
    SELECT version FROM docket.schema_migrations ORDER BY version`;
  expect(migrations.map((m) => m.version)).toContain(1);
});

test("the url reaches the same database as the client", async () => {
  const sql = newClient(db.url);
  try {
    const [row] = await sql<{ name: string }[]>`SELECT current_database() AS name`;
    expect(row?.name).toBe(db.name);
  } finally {
    await sql.end();
  }
});

test("each file, and each use within a file, gets a database of its own", async () => {
  expect(db.name).toMatch(/^t_database_[0-9a-f]{8}$/);
  expect(other.name).not.toBe(db.name);
  await db.sql`INSERT INTO docket.jobs (queue, worker) VALUES ('default', 'smoke')`;
  const [mine] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.jobs`;
  const [theirs] = await other.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.jobs`;
  expect(mine?.n).toBe(1);
  expect(theirs?.n).toBe(0);
});
