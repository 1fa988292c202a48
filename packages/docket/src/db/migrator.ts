import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { Sql, TransactionSql } from "postgres";
import { MigrationError } from "../errors.js";
import { checkIdentifier } from "../validation/identifiers.js";
import { migrationsDir } from "./migrations-dir.js";
import {
  type JobsLayout,
  legacyFirstDay,
  legacyRowsLeft,
  moveLegacyBatch,
  readLayout,
  swapInPartitionedTable,
} from "./partitioned-layout.js";

export { migrationsDir };

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

/** Options of a {@link Migrator}. */
export interface MigratorOptions {
  /** A directory of migrations other than docket's own (tests). */
  dir?: string;
}

/** What {@link Migrator.partition} did. */
export interface PartitionReport {
  /** Whether this call replaced the plain table (false: it was partitioned already). */
  swapped: boolean;
  /** Live jobs moved in the swap's transaction. */
  liveMoved: number;
  /** Finished jobs moved afterwards, in batches. */
  finishedMoved: number;
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

  private readonly dir: string | undefined;

  constructor(sql: Sql, schema: string, options: MigratorOptions = {}) {
    this.#sql = sql;
    this.dir = options.dir;
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
    if ((await this.layout()) === "partitioned") {
      throw new MigrationError(
        `schema "${this.#schema}" has a partitioned jobs table: its migrations cannot be reverted (docs/scaling.md)`,
      );
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

  /** How the schema stores its jobs, or null when it has no jobs table yet. */
  layout(): Promise<JobsLayout | null> {
    return readLayout(this.#sql, this.#schema);
  }

  /**
   * Turns the plain jobs table into the partitioned layout (docs/scaling.md), online: one short
   * transaction moves the live jobs and swaps the tables, then finished jobs move over in batches
   * of `batchSize` (one transaction each) while nodes go on working. Resumes an interrupted
   * move; does nothing on a schema that is partitioned and fully moved. Run {@link up} first.
   *
   * @throws MigrationError when migrations are pending or `batchSize` is not 1 to 100,000.
   */
  async partition(options: { batchSize?: number } = {}): Promise<PartitionReport> {
    const batchSize = options.batchSize ?? 10_000;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      throw new MigrationError(
        `partition batchSize must be an integer from 1 to 100000, got ${String(batchSize)}`,
      );
    }
    const pending = (await this.status()).filter((m) => !m.applied);
    if (pending.length > 0) {
      throw new MigrationError(
        `schema "${this.#schema}" has ${pending.length} pending migration(s): apply them (up) before partitioning`,
      );
    }
    const report: PartitionReport = { swapped: false, liveMoved: 0, finishedMoved: 0 };
    if ((await this.layout()) === "plain") {
      const live = await this.#inLock(async (tx) =>
        (await readLayout(tx, this.#schema)) === "plain" ? swapInPartitionedTable(tx) : null,
      );
      if (live !== null) Object.assign(report, { swapped: true, liveMoved: live });
    }
    if (!(await legacyRowsLeft(this.#sql, this.#schema))) return report;
    // Day partitions for the days the finished jobs span, each in a transaction of its own.
    const first = await this.#inLock((tx) => legacyFirstDay(tx));
    if (first !== null) {
      const missing = await this.#inLock(
        (tx) => tx<{ state: string; day: string }[]>`
          SELECT state::text, day::text FROM jobs_missing_day_partitions(${first}::date,
            ((now() AT TIME ZONE 'UTC')::date - ${first}::date) + 3)`,
      );
      for (const { state, day } of missing) {
        await this.#inLock(
          (tx) => tx`SELECT jobs_create_day_partition(${state}::job_state, ${day}::date)`,
        );
      }
    }
    for (;;) {
      const moved = await this.#inLock(async (tx) =>
        (await legacyRowsLeft(tx, this.#schema)) ? moveLegacyBatch(tx, batchSize) : 0,
      );
      report.finishedMoved += moved;
      if (moved === 0) break;
    }
    return report;
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
