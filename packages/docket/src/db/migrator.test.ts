import { describe, expect, test } from "vitest";
import { newClient, useTestDatabase } from "../../../../test/support/database.js";
import { MigrationError, Migrator } from "../index.js";

const db = useTestDatabase();

async function tables(schema: string): Promise<string[]> {
  const rows = await db.sql<{ name: string }[]>`
    SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${schema} ORDER BY 1`;
  return rows.map((r) => r.name);
}

describe("migrations", () => {
  test("several processes migrating one schema at the same moment all succeed, once", async () => {
    const clients = Array.from({ length: 4 }, () => newClient(db.url, { max: 2 }));
    try {
      const results = await Promise.all(
        clients.map((sql) => new Migrator(sql, "race_schema").up()),
      );
      const applied = results.flat().map((m) => m.version);
      const all = (await new Migrator(db.sql, "race_schema").status()).map((m) => m.version);
      // Every migration applied exactly once across the racers.
      expect(applied.sort()).toEqual(all.sort());
      expect(await tables("race_schema")).toContain("jobs");
      expect(await new Migrator(db.sql, "race_schema").up()).toEqual([]);
    } finally {
      await Promise.all(clients.map((sql) => sql.end()));
    }
  });

  test("status marks each migration applied or pending; down reverts the newest first", async () => {
    const migrator = new Migrator(db.sql, "updown");
    expect((await migrator.status()).every((m) => !m.applied)).toBe(true);
    await migrator.up();
    const status = await migrator.status();
    expect(status.length).toBeGreaterThan(0);
    expect(status.every((m) => m.applied && m.appliedAt instanceof Date)).toBe(true);
    const newest = status.at(-1)?.version;
    const reverted = await migrator.down(1);
    expect(reverted.map((m) => m.version)).toEqual([newest]);
    expect((await migrator.status()).at(-1)?.applied).toBe(false);
    await migrator.down(100);
    expect(await tables("updown")).toEqual(["schema_migrations"]);
    await migrator.up();
    expect(await tables("updown")).toContain("jobs");
  });

  test("bad schema names and step counts are refused before any SQL runs", async () => {
    expect(() => new Migrator(db.sql, 'x"; DROP TABLE docket.jobs; --')).toThrow(
      /not a valid identifier/,
    );
    expect(() => new Migrator(db.sql, "Upper")).toThrow(/schema/);
    await expect(new Migrator(db.sql, "docket").down(0)).rejects.toThrow(MigrationError);
    expect(await tables("docket")).toContain("jobs");
  });
});
