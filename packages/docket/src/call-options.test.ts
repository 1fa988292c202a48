import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../test/support/database.js";
import { queueFactory } from "../../../test/support/queues.js";
import { ConfigError } from "./errors.js";
import type { Lifeline } from "./maintenance/lifeline.js";
import type { Pruner } from "./maintenance/pruner.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

/** The error a promise rejects with (or a function throws), for checking its fields. */
async function errorOf(call: () => Promise<unknown>): Promise<ConfigError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("options of one call are parsed by a schema, with the option's path", () => {
  test("stop({ grace }) names grace, and refuses unknown keys with a suggestion", async () => {
    const queue = makeQueue();
    const bad = await errorOf(() => queue.stop({ grace: "soon" }));
    expect(bad.path).toBe("grace");
    expect(bad.message).toMatch(/^stop: grace: expected a duration/);
    const typo = await errorOf(() => queue.stop({ grase: "1s" } as never));
    expect(typo.message).toBe('stop: grase: unknown option (did you mean "grace"?)');
  });

  test("runCleanup names timeout, wait and batchSize", async () => {
    const queue = makeQueue();
    const timeout = await errorOf(() => queue.runCleanup("Jobs", { timeout: "ever" }));
    expect(timeout.path).toBe("timeout");
    expect(timeout.message).toMatch(/^runCleanup: timeout: expected a duration/);
    const wait = await errorOf(() => queue.runCleanup("Jobs", { wait: -1 }));
    expect(wait.path).toBe("wait");
    const batch = await errorOf(() => queue.runCleanup("Jobs", { batchSize: 0 }));
    expect(batch.path).toBe("batchSize");
    const typo = await errorOf(() => queue.runCleanup("Jobs", { timout: "1m" } as never));
    expect(typo.message).toContain('timout: unknown option (did you mean "timeout"?)');
  });

  test("pauseQueue, resumeQueue and scaleQueue name the queue, node and limit", async () => {
    const queue = makeQueue();
    const name = await errorOf(() => queue.pauseQueue("my queue"));
    expect(name.path).toBe("queue");
    expect(name.message).toMatch(/^pauseQueue: queue: must be printable ASCII/);
    const node = await errorOf(() => queue.resumeQueue("work", { node: "" }));
    expect(node.path).toBe("node");
    expect(node.message).toBe("resumeQueue: node: must be a node name");
    const limit = await errorOf(() => queue.scaleQueue("work", 1.5));
    expect(limit.path).toBe("limit");
    expect(limit.message).toMatch(
      /^scaleQueue: limit: .*integer from 1 to 10000, or null; got 1.5/,
    );
    const missing = await errorOf(() => queue.scaleQueue("work", undefined as never));
    expect(missing.path).toBe("limit");
  });
});

describe("the pruner and lifeline options are parsed once, by the queue's schema", () => {
  test("the built-in plugins hold the very options the queue parsed", () => {
    const queue = makeQueue({ pruner: { maxAge: "2h" }, lifeline: { rescueAfter: "10m" } });
    const pruner = queue.plugins.find((p) => p.name === "pruner") as Pruner;
    const lifeline = queue.plugins.find((p) => p.name === "lifeline") as Lifeline;
    expect(pruner.options).toBe(queue.options.pruner);
    expect(lifeline.options).toBe(queue.options.lifeline);
    expect(pruner.options.maxAge).toBe(7_200_000);
    expect(lifeline.options.rescueAfter).toBe(600_000);
  });
});
