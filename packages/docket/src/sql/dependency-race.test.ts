// A dependent inserted while its dependency's outcome is being stored: the two statements meet
// on the dependency's row lock, in both orders, and the dependent never waits for ever.
import postgres from "postgres";
import { afterEach, beforeEach, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ackJobs } from "./ack.js";
import { run } from "./executor.js";
import { insertDependentBatch } from "./jobs.js";

const db = useTestDatabase();
const clients: postgres.Sql[] = [];

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs`;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end({ timeout: 1 })));
});

function client(): postgres.Sql {
  const made = postgres(db.url, { max: 1, onnotice: () => {} });
  clients.push(made);
  return made;
}

async function executingJob(): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
    VALUES ('executing', 'default', 'w', 1, now(), 'n1') RETURNING id::text`;
  return row?.id as string;
}

function insertDependent(executor: postgres.Sql | postgres.TransactionSql, dependency: string) {
  const shared = {
    queue: "default",
    worker: "w",
    meta: {},
    tags: [],
    priority: 0,
    max_attempts: 5,
    scheduled_at: null,
    schedule_in_ms: null,
  };
  return run(executor, insertDependentBatch("docket", shared, "[{}]", [dependency], "cancel"));
}

function complete(executor: postgres.Sql | postgres.TransactionSql, id: string) {
  return run(executor, ackJobs("docket", "n1", { ids: [id], attempts: [1] }, []));
}

/** Resolves once the backend `pid` waits for a lock. */
async function waitsForLock(pid: number, what: string): Promise<void> {
  await waitFor(
    async () => {
      const [row] = await db.sql<{ waiting: boolean }[]>`
        SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = ${pid}`;
      return row?.waiting === true;
    },
    { what },
  );
}

async function pidOf(executor: postgres.Sql): Promise<number> {
  const [row] = await executor<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  return row?.pid as number;
}

async function dependentOf(dependency: string) {
  const rows = await db.sql<{ state: string; waiting_on: number }[]>`
    SELECT state::text, waiting_on FROM docket.jobs WHERE ${dependency}::bigint = ANY(depends_on)`;
  return rows;
}

test("an ack that waited for the lock of a dependency being linked releases the new dependent", async () => {
  const dependency = await executingJob();
  const inserter = client();
  const acker = client();
  const ackerPid = await pidOf(acker);
  let acking: Promise<unknown> | undefined;
  await inserter.begin(async (tx) => {
    await insertDependent(tx, dependency);
    // The ack starts (its snapshot taken before the dependent exists) and waits for the row.
    acking = complete(acker, dependency);
    await waitsForLock(ackerPid, "the ack to wait for the dependency's row lock");
  });
  await acking;
  expect(await dependentOf(dependency)).toEqual([{ state: "available", waiting_on: 0 }]);
});

test("a dependent linked while the ack of its dependency holds the lock sees it completed", async () => {
  const dependency = await executingJob();
  const acker = client();
  const inserter = client();
  const inserterPid = await pidOf(inserter);
  let inserting: Promise<unknown> | undefined;
  await acker.begin(async (tx) => {
    await complete(tx, dependency);
    inserting = insertDependent(inserter, dependency);
    await waitsForLock(inserterPid, "the insert to wait for the dependency's row lock");
  });
  await inserting;
  expect(await dependentOf(dependency)).toEqual([{ state: "available", waiting_on: 0 }]);
});
