// queue.waitForJob from a process that runs no queues: woken by the ack's NOTIFY (the poll is
// set to an hour, so only the NOTIFY can end these waits in time), or by its poll for finishes
// that notify nothing.
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import {
  ConfigError,
  defineWorker,
  JobCancelledError,
  JobDiscardedError,
  WaitTimeoutError,
} from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs`;
});

const render = defineWorker<{ page: number; fail?: boolean }>({
  name: "wait.render",
  queue: "render",
  maxAttempts: 1,
  async perform(job) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (job.args.fail) throw new Error("no such page");
    return { html: `<p>${job.args.page}</p>` };
  },
});

/** A node that runs the render queue, and a client that only inserts and waits. */
async function nodeAndClient() {
  const node = makeQueue({ queues: { render: 2 }, workers: [render] });
  await node.start();
  const client = makeQueue({ workers: [render] });
  return { node, client };
}

describe("waitForJob", () => {
  test("resolves with the completed job and its result, woken by the ack's NOTIFY", async () => {
    const { client } = await nodeAndClient();
    const job = await client.insert(render, { page: 7 });
    const done = await client.waitForJob(job.id, { timeout: "20s", pollInterval: "1h" });
    expect(done.state).toBe("completed");
    expect(done.meta.result).toEqual({ html: "<p>7</p>" });
    expect(done.meta["docket:awaited"]).toBe(true);
  });

  test("rejects with JobDiscardedError carrying the last error", async () => {
    const { client } = await nodeAndClient();
    const job = await client.insert(render, { page: 1, fail: true });
    const error = await client
      .waitForJob(job.id, { timeout: "20s", pollInterval: "1h" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobDiscardedError);
    expect((error as JobDiscardedError).message).toBe(
      `job ${job.id} was discarded: Error: no such page`,
    );
    expect((error as JobDiscardedError).job.state).toBe("discarded");
  });

  test("a cancel (which notifies nothing) is found by the poll", async () => {
    const client = makeQueue({ workers: [render] });
    const job = await client.insert(render, { page: 2 });
    const waiting = client.waitForJob(job.id, { pollInterval: "50ms" }).catch((e: unknown) => e);
    await client.cancelJob(job.id);
    expect(await waiting).toBeInstanceOf(JobCancelledError);
  });

  test("ends with WaitTimeoutError or the signal's reason; the job is untouched", async () => {
    const client = makeQueue({ workers: [render] });
    const job = await client.insert(render, { page: 3 });
    await expect(client.waitForJob(job.id, { timeout: "100ms" })).rejects.toBeInstanceOf(
      WaitTimeoutError,
    );
    const controller = new AbortController();
    const waiting = client.waitForJob(job.id, { signal: controller.signal });
    const reason = new Error("request closed");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect((await client.getJob(job.id))?.state).toBe("available");
  });

  test("a finished job resolves at once; bad input is refused", async () => {
    const { client } = await nodeAndClient();
    const job = await client.insert(render, { page: 4 });
    await client.waitForJob(job.id, { timeout: "20s" });
    expect((await client.waitForJob(job.id, { pollInterval: "1h" })).id).toBe(job.id);
    await expect(client.waitForJob("999999")).rejects.toThrow(
      "waitForJob: job 999999 does not exist",
    );
    await expect(client.waitForJob(job.id, { timeout: "soon" })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});
