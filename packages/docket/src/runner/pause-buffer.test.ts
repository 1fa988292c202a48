import { expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

test("pausing gives back the jobs claimed ahead into the prefetch buffer", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slow = defineWorker({ name: "gated", queue: "buffered", perform: () => gate });
  const runner = makeQueue({ queues: { buffered: { limit: 1, prefetch: 5 } }, workers: [slow] });
  await runner.insertMany(
    slow,
    Array.from({ length: 8 }, () => ({})),
  );
  await runner.start();
  const executing = async () => {
    const [row] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs WHERE worker = 'gated' AND state = 'executing'`;
    return row?.n ?? 0;
  };
  await waitFor(async () => (await executing()) === 6, { what: "1 running and 5 buffered" });
  await runner.pauseQueue("buffered");
  await waitFor(async () => (await executing()) === 1, { what: "the buffer to go back" });
  const back = await db.sql<{ attempt: number }[]>`
    SELECT attempt FROM docket.jobs WHERE worker = 'gated' AND state = 'available'`;
  expect(back.map((r) => r.attempt)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  release();
  await waitFor(async () => (await executing()) === 0, { what: "the running job to finish" });
  const [done] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs WHERE worker = 'gated' AND state = 'completed'`;
  expect(done?.n).toBe(1);
});
