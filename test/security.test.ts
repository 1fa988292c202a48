// The roles of docs/security.md, created from the page's own SQL: a node runs as the running
// role, a producer inserts as the insert-only role, a dashboard reads as the read-only one, and
// none of them needs more than the page grants.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defineWorker, Queue } from "../packages/docket/src/index.js";
import { newClient, useTestDatabase } from "./support/database.js";
import { partitionedSuite } from "./support/partitioned-suite.js";
import { waitFor } from "./support/wait.js";

const db = useTestDatabase();
const suffix = randomBytes(4).toString("hex");
const password = `pw${suffix}`;
const roles = ["owner", "node", "producer", "dashboard"] as const;
type Role = (typeof roles)[number];

/** The page's SQL blocks, with this run's role names, password and database. */
function securitySql(database: string): string[] {
  const page = readFileSync(new URL("../docs/security.md", import.meta.url), "utf8");
  return [...page.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) =>
    (m[1] as string)
      .replace(/\bdocket_(owner|node|producer|dashboard)\b/g, `docket_$1_${suffix}`)
      .replace(/'change-me'/g, `'${password}'`)
      .replace(/ON DATABASE app\b/g, `ON DATABASE "${database}"`),
  );
}

function urlAs(role: Role): string {
  const url = new URL(db.url);
  url.username = `docket_${role}_${suffix}`;
  url.password = password;
  return url.toString();
}

const queues: Queue[] = [];
function queueAs(role: Role, options: Omit<ConstructorParameters<typeof Queue>[0], "connection">) {
  const queue = new Queue({ connection: urlAs(role), poolSize: 3, ...options });
  queues.push(queue);
  return queue;
}

const echo = defineWorker({
  name: "SecureEcho",
  perform: async (job) => ({ n: (job.args as { n: number }).n }),
});

let serverVersion = 0;
/** The table DatabaseMaintenance looks after for the jobs: the live partition when partitioned. */
const jobsTable = partitionedSuite() ? "jobs_live" : "jobs";

beforeAll(async () => {
  const [superuserBlock, ownerBlock, maintainBlock] = securitySql(db.name);
  // The template's docket schema belongs to the superuser: this file's owner migrates its own.
  await db.sql`DROP SCHEMA docket CASCADE`;
  await db.sql.unsafe(superuserBlock as string);
  const owner = newClient(urlAs("owner"));
  try {
    const migrating = new Queue({
      connection: urlAs("owner"),
      poolSize: 2,
      partitioned: partitionedSuite(),
    });
    expect((await migrating.migrate()).length).toBeGreaterThan(0);
    await migrating.stop();
    await owner.unsafe(ownerBlock as string);
    const [row] = await owner<{ v: number }[]>`
      SELECT current_setting('server_version_num')::int AS v`;
    serverVersion = row?.v ?? 0;
    if (serverVersion >= 170000) await owner.unsafe(maintainBlock as string);
  } finally {
    await owner.end();
  }
});

afterAll(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ grace: 1 })));
  await db.sql`DROP SCHEMA IF EXISTS docket CASCADE`;
  for (const role of roles) {
    await db.sql.unsafe(`DROP OWNED BY docket_${role}_${suffix}`);
    await db.sql.unsafe(`DROP ROLE docket_${role}_${suffix}`);
  }
});

test("a node runs as the running role, a producer inserts as the insert-only role, a dashboard reads", async () => {
  const node = queueAs("node", {
    queues: { default: 2 },
    workers: [echo],
    stageInterval: 0.05,
    pollInterval: 0.2,
  });
  const errors: unknown[] = [];
  node.on("queue:error", ({ error }) => errors.push(error));
  // Nothing pending: migrate() reads and changes nothing, so the running role may call it.
  expect(await node.migrate()).toEqual([]);
  await node.start();

  const producer = queueAs("producer", { workers: [echo] });
  const inserted = await producer.insertMany(
    echo,
    Array.from({ length: 5 }, (_, n) => ({ n })),
  );
  await node.insert(echo, { n: 5 }, { scheduledAt: new Date(Date.now() + 200) });
  // The producer role may not change jobs.
  await expect(producer.cancelJob(inserted[0]?.id as string)).rejects.toThrow(/permission denied/);

  const dashboard = queueAs("dashboard", {});
  await waitFor(
    async () => (await dashboard.listJobs({ state: "completed", limit: 10 })).jobs.length === 6,
    { what: "all six jobs to complete on the node" },
  );
  expect((await dashboard.getJob(inserted[0]?.id as string))?.meta).toMatchObject({
    result: { n: 0 },
  });

  // The leader's cleanup of docket's own tables, as the running role.
  for (const target of ["Jobs", "Producers"]) {
    const result = await node.runCleanup(target);
    expect(result, target).toMatchObject({ success: true });
  }
  const upkeep = await node.runCleanup("DatabaseMaintenance", { timeout: "60s" });
  expect(upkeep.success, upkeep.error).toBe(true);
  if (serverVersion >= 170000) {
    expect(upkeep.details.skipped).toBeUndefined();
    expect((upkeep.details.vacuumed as string[]).length).toBeGreaterThan(0);
  } else {
    expect(upkeep.details.skipped).toContain(jobsTable);
  }
  expect(errors).toEqual([]);
}, 60_000);

test("DatabaseMaintenance without MAINTAIN skips what the role may not maintain, not crash", async () => {
  if (serverVersion >= 170000) {
    await db.sql.unsafe(
      `REVOKE MAINTAIN ON ALL TABLES IN SCHEMA docket FROM docket_node_${suffix}`,
    );
  }
  const node = queueAs("node", {});
  const result = await node.runCleanup("DatabaseMaintenance", { timeout: "60s" });
  expect(result.success, result.error).toBe(true);
  expect(result.details.skipped).toEqual(expect.arrayContaining([jobsTable, "leaders"]));
  expect(result.details.vacuumed).toEqual([]);
});
