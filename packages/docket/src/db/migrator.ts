import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Sql, TransactionSql } from "postgres";
import { MigrationError } from "../errors.js";
import { checkIdentifier } from "../validation/identifiers.js";

/** One migration and whether it is applied in a schema. */
export interface MigrationStatus {
  version: number;
  name: string;
  applied: boolean;
  appliedAt: Date | null;
}

interface MigrationFile {
  version: number;
  name: string;
  up: string;
  down: string;
}

const filePattern = /^(\d{4})_([a-z0-9_]+)\.up\.sql$/;

/** The migrations shipped in the package, or the repository's own when running from source. */
export function migrationsDir(): string {
  const candidates = [
    new URL("../../migrations/", import.meta.url),
    new URL("../../../../migrations/", import.meta.url),
  ];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new MigrationError("docket's migrations directory is missing from the installed package");
}

function loadMigrations(dir: string): MigrationFile[] {
  const files: MigrationFile[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const match = filePattern.exec(entry);
    if (!match) continue;
    const downPath = `${dir}/${entry.replace(/\.up\.sql$/, ".down.sql")}`;
    files.push({
      version: Number(match[1]),
      name: match[2] as string,
      up: readFileSync(`${dir}/${entry}`, "utf8"),
      down: existsSync(downPath) ? readFileSync(downPath, "utf8") : "",
    });
  }
  return files;
}

/**
 * Applies docket's numbered migrations to a schema, one transaction per migration, under a
 * transaction-level advisory lock so that any number of processes may migrate at once.
 *
 * @example
 * ```ts
 * const migrator = new Migrator(sql, "docket");
 * await migrator.up();
 * console.table(await migrator.status());
 * ```
 */
export class Migrator {
  readonly #sql: Sql;
  readonly #schema: string;
  readonly #lockKey: string;
  #files: MigrationFile[] | undefined;

  constructor(
    sql: Sql,
    schema: string,
    private readonly dir?: string,
  ) {
    this.#sql = sql;
    this.#schema = checkIdentifier(schema, "schema");
    this.#lockKey = `docket.migrate:${schema}`;
  }

  get #migrations(): MigrationFile[] {
    this.#files ??= loadMigrations(this.dir ?? migrationsDir());
    return this.#files;
  }

  /**
   * Applies every pending migration; returns the ones it applied. With nothing pending it only
   * reads `schema_migrations` (no CREATE SCHEMA), so a role without CREATE may call it.
   */
  async up(): Promise<MigrationStatus[]> {
    if ((await this.status()).every((m) => m.applied)) return [];
    await this.#prepare();
    const applied: MigrationStatus[] = [];
    for (const file of this.#migrations) {
      const done = await this.#inLock(async (tx) => {
        const [row] = await tx`
          SELECT 1 FROM ${tx(this.#schema)}.schema_migrations WHERE version = ${file.version}`;
        if (row) return false;
        await tx.unsafe(file.up);
        await tx`
          INSERT INTO ${tx(this.#schema)}.schema_migrations (version, name)
          VALUES (${file.version}, ${file.name})`;
        return true;
      }, file);
      if (done) applied.push({ ...this.#describe(file), applied: true, appliedAt: new Date() });
    }
    return applied;
  }

  /** Reverts the last `steps` applied migrations, newest first; returns the ones reverted. */
  async down(steps = 1): Promise<MigrationStatus[]> {
    if (!Number.isInteger(steps) || steps < 1) {
      throw new MigrationError(`down steps must be a positive integer, got ${String(steps)}`);
    }
    await this.#prepare();
    const reverted: MigrationStatus[] = [];
    for (let i = 0; i < steps; i++) {
      const file = await this.#inLock(async (tx) => {
        const [row] = await tx<{ version: number }[]>`
          SELECT version FROM ${tx(this.#schema)}.schema_migrations
          ORDER BY version DESC LIMIT 1`;
        if (!row) return null;
        const found = this.#migrations.find((m) => m.version === row.version);
        if (!found) {
          throw new MigrationError(
            `applied migration ${row.version} is unknown to this version of docket`,
          );
        }
        await tx.unsafe(found.down);
        await tx`DELETE FROM ${tx(this.#schema)}.schema_migrations WHERE version = ${found.version}`;
        return found;
      });
      if (!file) break;
      reverted.push({ ...this.#describe(file), applied: false, appliedAt: null });
    }
    return reverted;
  }

  /** Every known migration, marked applied or pending. */
  async status(): Promise<MigrationStatus[]> {
    const [exists] = await this.#sql<{ table: string | null }[]>`
      SELECT to_regclass(${`${this.#schema}.schema_migrations`})::text AS table`;
    const rows = exists?.table
      ? await this.#sql<{ version: number; applied_at: Date }[]>`
          SELECT version, applied_at FROM ${this.#sql(this.#schema)}.schema_migrations`
      : [];
    const applied = new Map(rows.map((r) => [r.version, r.applied_at]));
    return this.#migrations.map((file) => ({
      ...this.#describe(file),
      applied: applied.has(file.version),
      appliedAt: applied.get(file.version) ?? null,
    }));
  }

  #describe(file: MigrationFile): Pick<MigrationStatus, "version" | "name"> {
    return { version: file.version, name: file.name };
  }

  /**
   * The SQL that `up()` would run, for a DBA to review or apply by hand (`docket migrate --sql`):
   * each pending migration in its own transaction, with its bookkeeping row. Changes nothing.
   */
  async pendingSql(): Promise<string> {
    const pending = (await this.status()).filter((m) => !m.applied);
    const quoted = (await this.#sql`SELECT quote_ident(${this.#schema}) AS q`)[0]?.q as string;
    const parts = [
      `-- docket migrations for schema ${quoted}: ${pending.length} pending`,
      `CREATE SCHEMA IF NOT EXISTS ${quoted};`,
      `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (\n  version integer PRIMARY KEY,\n  name text NOT NULL,\n  applied_at timestamptz NOT NULL DEFAULT now()\n);`,
    ];
    for (const m of pending) {
      const file = this.#migrations.find((f) => f.version === m.version);
      if (!file) continue;
      const name = (await this.#sql`SELECT quote_literal(${file.name}) AS q`)[0]?.q as string;
      parts.push(
        `\n-- ${String(file.version).padStart(4, "0")}_${file.name}\nBEGIN;\nSET LOCAL search_path = ${quoted};\n${file.up.trim()}\nINSERT INTO ${quoted}.schema_migrations (version, name) VALUES (${file.version}, ${name});\nCOMMIT;`,
      );
    }
    return `${parts.join("\n")}\n`;
  }

  async #prepare(): Promise<void> {
    await this.#inLock(async (tx) => {
      await tx`CREATE SCHEMA IF NOT EXISTS ${tx(this.#schema)}`;
      await tx`
        CREATE TABLE IF NOT EXISTS ${tx(this.#schema)}.schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`;
    });
  }

  async #inLock<T>(body: (tx: TransactionSql) => Promise<T>, file?: MigrationFile): Promise<T> {
    try {
      return (await this.#sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${this.#lockKey}))`;
        // Migrations may rewrite big tables and wait for locks: docket's session limits
        // (statementTimeout, lockTimeout) are lifted for their transaction.
        await tx`SELECT set_config('search_path', quote_ident(${this.#schema}), true),
          set_config('statement_timeout', '0', true), set_config('lock_timeout', '0', true)`;
        return body(tx);
      })) as T;
    } catch (error) {
      if (error instanceof MigrationError) throw error;
      const what = file ? `migration ${file.version}_${file.name}` : "migration bookkeeping";
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(`${what} failed in schema "${this.#schema}": ${reason}`, {
        cause: error,
      });
    }
  }
}
