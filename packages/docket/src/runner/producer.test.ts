import { test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { nextEvent, waitFor } from "../../../../test/support/wait.js";
import { defineWorker } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

test("after a failed fetch the producer fetches again once its back-off ends, not at the next poll", async () => {
  const worker = defineWorker({ name: "after-backoff", queue: "backoff", perform: () => {} });
  // A 60 s poll: only the retry after the back-off (at most 1 s) can take the job in time.
  const queue = makeQueue({ queues: { backoff: 1 }, workers: [worker], pollInterval: 60 });
  const blocker = await db.sql.reserve();
  try {
    // The start fetch waits on a table lock; its backend is then terminated, so it fails.
    await blocker`BEGIN`;
    await blocker`LOCK TABLE docket.jobs IN ACCESS EXCLUSIVE MODE`;
    await queue.start();
    const [waiting] = await waitFor(
      () =>
        db.sql<{ pid: number }[]>`
          SELECT pid FROM pg_stat_activity
          WHERE application_name = 'docket' AND wait_event_type = 'Lock'`.then(
          (rows) => rows.length > 0 && rows,
        ),
      { what: "the fetch to wait on the lock" },
    );
    const failed = nextEvent(queue, "queue:error", ({ source }) => source === "producer:backoff");
    await db.sql`SELECT pg_terminate_backend(${(waiting as { pid: number }).pid})`;
    await failed;
    // Inserted (and notified) during the back-off, when a wake-up asks for no fetch.
    await blocker`COMMIT`;
    const [row] = await db.sql<{ id: string }[]>`
      INSERT INTO docket.jobs (queue, worker) VALUES ('backoff', 'after-backoff') RETURNING id::text`;
    await waitFor(
      async () => {
        const job = await queue.getJob(row?.id as string);
        return job?.state === "completed";
      },
      { timeoutMs: 20_000, what: "the job to run after the back-off" },
    );
  } finally {
    blocker.release();
  }
});
