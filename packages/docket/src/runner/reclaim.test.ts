import { expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { defineWorker } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

test("a claim this live node lost (its fetch reply never came) is given back and run", async () => {
  const ran: string[] = [];
  const worker = defineWorker({
    name: "reclaimed",
    queue: "lossy",
    perform: (job) => {
      ran.push(job.id);
    },
  });
  const queue = makeQueue({
    queues: { lossy: 2 },
    workers: [worker],
    heartbeat: { interval: 0.2, timeout: 1 },
    lifeline: { interval: 0.2 },
  });
  await queue.start();
  // What a fetch whose reply was lost with its connection leaves behind: the job is executing
  // under this node, which heartbeats, so the lifeline must not take it; the node never saw it.
  const [lost] = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
    VALUES ('executing', 'lossy', 'reclaimed', 1, now() - interval '10 seconds', ${queue.node})
    RETURNING id::text`;
  // A fresh claim of the same node is left alone: its fetch may still be on its way.
  const [fresh] = await db.sql<{ id: string }[]>`
    INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
    VALUES ('executing', 'lossy', 'reclaimed', 1, now() + interval '1 hour', ${queue.node})
    RETURNING id::text`;
  const id = lost?.id as string;
  await waitFor(async () => (await queue.getJob(id))?.state === "completed", {
    what: "the lost claim to be given back and run",
  });
  const job = await queue.getJob(id);
  expect(job?.attempt).toBe(1); // refunded when given back, then used by the run
  expect(job?.meta.rescued).toBeUndefined(); // given back by its own node, not rescued
  expect(ran).toEqual([id]);
  expect((await queue.getJob(fresh?.id as string))?.state).toBe("executing");
});
