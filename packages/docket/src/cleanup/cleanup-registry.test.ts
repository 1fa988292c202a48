import { writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { partitionedSuite } from "../../../../test/support/partitioned-suite.js";
import { waitFor } from "../../../../test/support/wait.js";
import { loadConfig } from "../config/load-config.js";
import type { Cron } from "../cron/cron.js";
import { CleanupLockedError, ConfigError } from "../errors.js";
import { Queue, type QueueOptions } from "../index.js";
import { defineCleanupTarget } from "./define-target.js";

const db = useTestDatabase();

const logRecords = defineCleanupTarget({
  name: "DeploymentLogRecord",
  table: "app_log",
  keepLatest: { count: 3, partitionBy: "deployment_id", orderBy: "created_at" },
});
const oidcState = defineCleanupTarget({
  name: "OIDCState",
  table: "app_oidc",
  expired: { column: "expires_at" },
});

const made: Queue[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((q) => q.stop({ grace: 1 })));
});

function queueWith(options: Omit<QueueOptions, "connection">): Queue {
  const queue = new Queue({ connection: db.url, poolSize: 4, pollInterval: 0.1, ...options });
  made.push(queue);
  return queue;
}

async function seedApp(): Promise<void> {
  await db.sql`DROP TABLE IF EXISTS app_log, app_oidc`;
  await db.sql`CREATE TABLE app_log (id serial PRIMARY KEY, deployment_id int, created_at timestamptz)`;
  await db.sql`CREATE TABLE app_oidc (state text PRIMARY KEY, expires_at timestamptz)`;
  await db.sql`
    INSERT INTO app_log (deployment_id, created_at)
    SELECT d, now() - (i || ' minutes')::interval FROM generate_series(1, 2) d, generate_series(1, 10) i`;
}

describe("a target is a worker", () => {
  test("queue.insert(target, {}) runs it as a job; its result lands in meta.result", async () => {
    await seedApp();
    const queue = queueWith({ queues: { maintenance: 1 }, cleanup: [logRecords] });
    await queue.start();
    const job = await queue.insert(logRecords, {});
    expect(job).toMatchObject({
      worker: "cleanup:DeploymentLogRecord",
      queue: "maintenance",
      tags: ["cleanup"],
    });
    const done = await waitFor(async () => {
      const current = await queue.getJob(job.id);
      return current?.state === "completed" && current;
    });
    expect(done.meta.result).toMatchObject({
      target: "DeploymentLogRecord",
      success: true,
      totalDeleted: 14,
      timedOut: false,
      details: { groups: 2, groupsDone: 2, table: "public.app_log" },
    });
    expect(typeof (done.meta.result as { durationMs: number }).durationMs).toBe("number");
  });

  test("while another run holds the target's lock, a run fails fast and a job is cancelled", async () => {
    await seedApp();
    const queue = queueWith({ queues: { maintenance: 1 }, cleanup: [logRecords] });
    // Another run's lease, as that run's process would hold it.
    await db.sql`INSERT INTO docket.leaders (name, node, expires_at)
      VALUES ('cleanup:DeploymentLogRecord', 'run elsewhere', now() + interval '1 hour')`;
    try {
      await expect(queue.runCleanup("DeploymentLogRecord")).rejects.toThrow(CleanupLockedError);
      await expect(queue.runCleanup("DeploymentLogRecord")).rejects.toThrow(
        "cleanup target DeploymentLogRecord is already running elsewhere (its lease is held)",
      );
      await queue.start();
      const job = await queue.insert(logRecords, {});
      const cancelled = await waitFor(async () => {
        const current = await queue.getJob(job.id);
        return current?.state === "cancelled" && current;
      });
      expect(cancelled.errors.at(-1)?.error).toContain("already running elsewhere");
      // --wait: a run that waits gets the lock once the other run lets go.
      const [clock] = await db.sql<{ since: Date }[]>`SELECT clock_timestamp() AS since`;
      const since = clock?.since as Date;
      let settled = false;
      const waiting = queue.runCleanup("DeploymentLogRecord", { wait: "20s" });
      void waiting
        .finally(() => {
          settled = true;
        })
        .catch(() => {});
      // Blocked for real: its claim of the lease reached the database and was refused (the lease
      // is still the other run's), and the run has not ended.
      await waitFor(
        async () => {
          const [tried] = await db.sql`
            SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database() AND query_start >= ${since}
              AND query LIKE '%ON CONFLICT (name) DO UPDATE%' AND pid <> pg_backend_pid()`;
          return tried !== undefined;
        },
        { what: "the waiting run to try the lease" },
      );
      expect(settled).toBe(false);
      const [lease] = await db.sql<{ node: string }[]>`
        SELECT node FROM docket.leaders WHERE name = 'cleanup:DeploymentLogRecord'`;
      expect(lease?.node).toBe("run elsewhere");
      await db.sql`DELETE FROM docket.leaders WHERE name = 'cleanup:DeploymentLogRecord'`;
      await expect(waiting).resolves.toMatchObject({ success: true, totalDeleted: 14 });
    } finally {
      await db.sql`DELETE FROM docket.leaders WHERE name = 'cleanup:DeploymentLogRecord'`;
    }
  });
});

describe("schedules", () => {
  test("CLEANUP_<NAME>_CRON and _TIMEOUT from the environment schedule a target; none means none", async () => {
    const dir = await mkdtemp(join(tmpdir(), "docket-cleanup-"));
    const file = join(dir, "docket.toml");
    writeFileSync(
      file,
      `database_url = "${db.url}"\n[queues]\ndefault = 2\n[cleanup.Jobs]\nschedule = "@daily"\ntimezone = "Europe/Berlin"\n`,
    );
    const env = {
      CLEANUP_DEPLOYMENT_LOG_RECORD_CRON: "*/5 * * * *",
      CLEANUP_DEPLOYMENT_LOG_RECORD_TIMEOUT: "10m",
      CLEANUP_OIDC_STATE_CRON: "0 * * * *",
    };
    const { options } = await loadConfig(file, {
      env,
      overrides: { cleanup: [logRecords, oidcState] },
    });
    const queue = queueWith(options);
    const byName = Object.fromEntries(queue.cleanupTargets().map((t) => [t.name, t]));
    expect(byName.DeploymentLogRecord).toMatchObject({
      schedule: "*/5 * * * *",
      timeoutMs: 600_000,
    });
    expect(byName.OIDCState).toMatchObject({ schedule: "0 * * * *", timeoutMs: null });
    expect(byName.Jobs).toMatchObject({
      schedule: "@daily",
      timezone: "Europe/Berlin",
      builtIn: true,
    });
    for (const name of ["JobArchive", "DatabaseMaintenance", "Producers"])
      expect(byName[name]?.schedule).toBeNull();
    const cron = queue.plugins.find((p) => p.name === "cron") as Cron;
    expect(cron.entries.map((e) => [e.name, e.expression, e.timezone])).toEqual([
      ["cleanup:Jobs", "@daily", "Europe/Berlin"],
      ["cleanup:DeploymentLogRecord", "*/5 * * * *", "UTC"],
      ["cleanup:OIDCState", "0 * * * *", "UTC"],
    ]);
    // A node that runs queues runs its scheduled targets' queue too, one job at a time.
    expect(queue.options.queues.maintenance).toMatchObject({ limit: 1 });
    expect(queueWith({ cleanup: [logRecords] }).options.queues).toEqual({});
  });

  test("a schedule for a target nobody defined, or a bad one, fails at construction", async () => {
    expect(() => queueWith({ cleanup: { DeploymentLogRecords: { schedule: "@hourly" } } })).toThrow(
      "cleanup.DeploymentLogRecords: no cleanup target named DeploymentLogRecords",
    );
    expect(() => queueWith({ cleanup: [logRecords] }).options).not.toThrow();
    const error = (() => {
      try {
        queueWith({ cleanup: { Jobs: { schedule: "every hour" } } });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('cleanup.Jobs.schedule: "every hour" has 2 fields');
  });

  test("a scheduled target runs on the leader's slots as a job", async () => {
    await seedApp();
    const target = defineCleanupTarget({ ...logRecordsOptions(), schedule: "* * * * * *" });
    const queue = queueWith({ queues: { default: 1 }, leadership: { ttl: 1 }, cleanup: [target] });
    await queue.start();
    const [job] = await waitFor(async () => {
      const rows = await db.sql<{ id: string; meta: { result?: { totalDeleted: number } } }[]>`
        SELECT id, meta FROM docket.jobs WHERE worker = 'cleanup:DeploymentLogRecord' AND state = 'completed'`;
      return rows.length > 0 && rows;
    });
    expect(job?.meta.result?.totalDeleted).toBe(14);
  });
});

function logRecordsOptions() {
  return {
    name: "DeploymentLogRecord",
    table: "app_log",
    keepLatest: { count: 3, partitionBy: "deployment_id", orderBy: "created_at" },
  };
}

describe("built-in targets", () => {
  test("Jobs deletes finished jobs past the pruner's retention per state", async () => {
    await db.sql`TRUNCATE docket.jobs`;
    // Five days: older than the day partitions of the partitioned layout, so that there too the
    // jobs are in the default partitions, which the pruner's DELETE reaches.
    await db.sql`
      INSERT INTO docket.jobs (state, queue, worker, completed_at, discarded_at, cancelled_at, attempt)
      VALUES ('completed', 'q', 'w', now() - interval '5 days', NULL, NULL, 1),
             ('completed', 'q', 'w', now() - interval '10 minutes', NULL, NULL, 1),
             ('discarded', 'q', 'w', NULL, now() - interval '5 days', NULL, 1),
             ('cancelled', 'q', 'w', NULL, NULL, now() - interval '5 days', 0),
             ('available', 'q', 'w', NULL, NULL, NULL, 0)`;
    const queue = queueWith({ pruner: { maxAge: "1h", maxAgeByState: { discarded: false } } });
    const result = await queue.runCleanup("Jobs");
    expect(result).toMatchObject({
      success: true,
      totalDeleted: 2,
      details: { byState: { completed: 1, cancelled: 1, discarded: 0 } },
    });
    const left = await db.sql<{ state: string }[]>`SELECT state FROM docket.jobs ORDER BY state`;
    expect(left.map((r) => r.state)).toEqual(["available", "completed", "discarded"]);
  });

  test("JobArchive moves finished jobs into jobs_archive_<year>_<month> by their finish time", async () => {
    await db.sql`TRUNCATE docket.jobs`;
    await db.sql`
      INSERT INTO docket.jobs (state, queue, worker, completed_at, discarded_at, attempt)
      VALUES ('completed', 'q', 'a', '2026-09-10Z', NULL, 1), ('discarded', 'q', 'b', NULL, '2026-10-02Z', 1),
             ('completed', 'q', 'c', now(), NULL, 1), ('available', 'q', 'd', NULL, NULL, 0)`;
    const result = await queueWith({}).runCleanup("JobArchive");
    expect(result).toMatchObject({
      success: true,
      totalDeleted: 2,
      details: { archived: { jobs_archive_2026_09: 1, jobs_archive_2026_10: 1 } },
    });
    expect(await db.sql`SELECT worker, state::text FROM docket.jobs_archive_2026_09`).toEqual([
      { worker: "a", state: "completed" },
    ]);
    expect(await db.sql`SELECT worker FROM docket.jobs_archive_2026_10`).toEqual([{ worker: "b" }]);
    expect(
      (await db.sql`SELECT worker FROM docket.jobs ORDER BY worker`).map((r) => r.worker),
    ).toEqual(["c", "d"]);
  });

  test("Producers deletes the rows of producers that stopped heartbeating", async () => {
    await db.sql`
      INSERT INTO docket.producers (node, queue, heartbeat_at)
      VALUES ('gone', 'default', now() - interval '1 hour'), ('alive', 'default', now())`;
    const result = await queueWith({ heartbeat: { timeout: "1m" } }).runCleanup("Producers");
    expect(result).toMatchObject({
      success: true,
      totalDeleted: 1,
      details: { producers: ["gone/default"] },
    });
    expect(await db.sql`SELECT node FROM docket.producers`).toEqual([{ node: "alive" }]);
    await db.sql`DELETE FROM docket.producers`;
  });

  test("DatabaseMaintenance drops invalid _ccnew leftovers, reindexes concurrently, vacuums and analyzes", async () => {
    await db.sql`TRUNCATE docket.jobs`;
    await db.sql`INSERT INTO docket.jobs (queue, worker) SELECT 'q', 'w' FROM generate_series(1, 3)`;
    // An interrupted REINDEX CONCURRENTLY leaves an invalid index named <index>_ccnew behind.
    // Partitioned, the live partition is the table looked after (and no unique index exists).
    const jobs = partitionedSuite() ? "jobs_live" : "jobs";
    await db.sql
      .unsafe(`CREATE UNIQUE INDEX CONCURRENTLY jobs_fetch_idx_ccnew ON docket.${jobs} (queue)`)
      .catch(() => {});
    const invalid = await db.sql`
      SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = 'jobs_fetch_idx_ccnew' AND NOT i.indisvalid`;
    expect(invalid).toHaveLength(1);
    const result = await queueWith({}).runCleanup("DatabaseMaintenance");
    expect(result.success).toBe(true);
    expect(result.details.droppedIndexes).toEqual(["jobs_fetch_idx_ccnew"]);
    expect(result.details.reindexed).toEqual(
      expect.arrayContaining(
        partitionedSuite()
          ? ["jobs_fetch_idx", "job_unique_keys_pkey", "producers_pkey"]
          : ["jobs_fetch_idx", "jobs_pkey", "producers_pkey"],
      ),
    );
    expect(result.details.vacuumed).toEqual([
      ...(partitionedSuite() ? ["jobs_live", "job_unique_keys"] : ["jobs"]),
      "producers",
      "leaders",
      "queues",
      "cron_entries",
      "cron_slots",
    ]);
    const leftovers = await db.sql`
      SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'docket' AND c.relname ~ '_cc(new|old)'`;
    expect(leftovers).toEqual([]);
    const [stats] = await db.sql`
      SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed
      FROM pg_stat_user_tables WHERE schemaname = 'docket' AND relname = ${jobs}`;
    expect(stats).toEqual({ vacuumed: true, analyzed: true });
  });
});
