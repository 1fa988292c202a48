// One PostgreSQL database per test file, cloned from the migrated template that the global setup
// prepared (test/setup/global-setup.ts). Cloning is fast and gives each file a clean, isolated
// schema, so files can run in parallel without seeing each other's jobs.

import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, inject, type RunnerTask } from "vitest";
import { withDatabase } from "../setup/provided-context.js";
import { waitFor } from "./wait.js";

/** A database of one's own for the tests of a file. */
export interface TestDatabase {
  /** The database's name, `t_<file>_<random>`. */
  readonly name: string;
  /** Connection string to the database, for code that opens its own connections. */
  readonly url: string;
  /** A client on the database (at most 5 connections), closed after the file's tests. */
  readonly sql: Sql;
}

/**
 * Gives the calling test file its own database, migrated like the template. Call it at the top
 * of the file; `url` and `sql` are readable once `beforeAll` has run (inside tests and hooks).
 * The database is dropped after the file unless a test failed: then it is kept for inspection
 * (on a server of your own, `DATABASE_URL`; a throwaway server disappears at the end of the run).
 *
 * @example
 * ```ts
 * const db = useTestDatabase();
 * test("starts empty", async () => {
 *   expect(await db.sql`SELECT * FROM docket.jobs`).toHaveLength(0);
 * });
 * ```
 */
export function useTestDatabase(): TestDatabase {
  let current: TestDatabase | undefined;

  // vitest reads the first parameter as fixtures and insists that it be destructured.
  // biome-ignore lint/correctness/noEmptyPattern: see above
  beforeAll(async ({}, suite) => {
    const { adminUrl, template } = inject("docketTestServer");
    const name = databaseName(suite.file.filepath);
    await cloneTemplate(adminUrl, template, name);
    const url = withDatabase(adminUrl, name);
    current = { name, url, sql: newClient(url) };
  });

  // biome-ignore lint/correctness/noEmptyPattern: see beforeAll
  afterAll(async ({}, suite) => {
    if (!current) return;
    const { name, url, sql } = current;
    await sql.end({ timeout: 5 });
    if (hasFailures(suite)) {
      console.warn(`[docket tests] kept database ${name} of a failed test: ${redacted(url)}`);
      return;
    }
    // FORCE ends any connection the code under test left open.
    await withAdmin(inject("docketTestServer").adminUrl, async (admin) => {
      await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
    });
  });

  const get = (): TestDatabase => {
    if (!current) throw new Error("useTestDatabase(): the database exists only once beforeAll ran");
    return current;
  };
  return {
    get name() {
      return get().name;
    },
    get url() {
      return get().url;
    },
    get sql() {
      return get().sql;
    },
  };
}

/** A further client on a test database; the test must `end()` it. Notices are silenced. */
export function newClient(url: string, options: postgres.Options<Record<string, never>> = {}): Sql {
  return postgres(url, { max: 5, onnotice: () => {}, ...options });
}

/**
 * Postgres refuses to clone a template while any other session is connected to it, and clones
 * started at the same moment from parallel test files can trip over each other. So clones are
 * serialised server-wide with an advisory lock, and a clone refused with 55006 ("source database
 * is being accessed by other users") is retried after a short pause.
 */
async function cloneTemplate(adminUrl: string, template: string, name: string): Promise<void> {
  await withAdmin(adminUrl, async (admin) => {
    // One connection (max: 1), so the session-level lock and the CREATE share a session.
    await admin`SELECT pg_advisory_lock(hashtext('docket tests: clone template'))`;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await admin`CREATE DATABASE ${admin(name)} TEMPLATE ${admin(template)}`;
          return;
        } catch (error) {
          const busy = error instanceof postgres.PostgresError && error.code === "55006";
          if (!busy || attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * attempt, 500)));
        }
      }
    } finally {
      await admin`SELECT pg_advisory_unlock(hashtext('docket tests: clone template'))`;
    }
  });
}

async function withAdmin(adminUrl: string, body: (admin: Sql) => Promise<void>): Promise<void> {
  const admin = newClient(adminUrl, { max: 1 });
  try {
    await body(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** `t_<file>_<random>`: recognisable in `\l`, unique across runs, within Postgres' 63 bytes. */
function databaseName(filepath: string): string {
  const file = basename(filepath)
    .replace(/\.test\.[cm]?[jt]s$/, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .slice(0, 40);
  return `t_${file}_${randomBytes(4).toString("hex")}`;
}

function hasFailures(task: RunnerTask): boolean {
  if (task.result?.state === "fail") return true;
  return "tasks" in task && task.tasks.some(hasFailures);
}

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/**
 * Waits until a backend of the test's database (of `applicationName` when given) waits on a
 * lock, and returns the waiting backends' pids: how a test knows docket's statement is blocked
 * on the lock it holds. Only this file's database counts: other files run beside it.
 *
 * @example
 * ```ts
 * const [pid] = await lockWaiters(db, "docket", "the fetch to wait on the lock");
 * ```
 */
export function lockWaiters(
  db: TestDatabase,
  applicationName: string | null,
  what: string,
): Promise<number[]> {
  return waitFor(
    async () => {
      const rows = await db.sql<{ pid: number }[]>`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND (${applicationName}::text IS NULL OR application_name = ${applicationName})`;
      return rows.length > 0 && rows.map((row) => row.pid);
    },
    { what },
  );
}
