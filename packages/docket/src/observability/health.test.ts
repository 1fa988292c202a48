// queue.health() on a real database: not ready before start or after stop, ready while
// running, and an unreachable database reported (not thrown) within the timeout.
import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError, defineWorker, Queue } from "../index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const noop = defineWorker({ name: "health.noop", queue: "probed", perform() {} });

describe("queue.health()", () => {
  test("follows the node's lifecycle and reports its queues", async () => {
    const queue = makeQueue({ queues: { probed: 3 }, workers: [noop] });
    const before = await queue.health();
    expect(before).toMatchObject({ ready: false, state: "idle", database: { reachable: true } });
    expect(before.queues).toEqual([]);
    await queue.start();
    const job = await queue.insert(noop, {});
    // Once its outcome is stored, nothing waits in the acker.
    await waitFor(async () => (await queue.getJob(job.id))?.state === "completed");
    const running = await queue.health();
    expect(running).toMatchObject({
      ready: true,
      state: "started",
      listening: true,
      ackBacklog: 0,
    });
    expect(running.queues).toEqual([
      expect.objectContaining({ queue: "probed", limit: 3, paused: false, lastFetchError: null }),
    ]);
    expect(running.queues[0]?.lastFetchAt).toBeInstanceOf(Date);
    await queue.stop();
    expect(await queue.health()).toMatchObject({ ready: false, state: "stopped" });
  });

  test("an unreachable database is reported within the timeout, not thrown", async () => {
    // Port 1 on loopback: nothing listens there.
    const queue = new Queue({ connection: "postgres://nobody@127.0.0.1:1/none", poolSize: 2 });
    const health = await queue.health({ timeout: "500ms" });
    expect(health.ready).toBe(false);
    expect(health.database.reachable).toBe(false);
    expect(health.database.error).toMatch(/ECONNREFUSED|no answer within 500ms/);
    await queue.stop({ grace: 0 });
    expect(() => queue.health({ timeout: "1h" })).toThrow(ConfigError);
  });
});
