import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { afterEach, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { Pruner } from "../maintenance/pruner.js";
import { defineWorker } from "../workers/define-worker.js";
import { diagnosticsChannelNames } from "./diagnostics-channels.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const subscriptions: [string, (message: unknown) => void][] = [];

afterEach(() => {
  for (const [name, listener] of subscriptions.splice(0)) unsubscribe(name, listener);
});

/** Collects what a channel receives, without any listener on the queue itself. */
function collect(event: keyof typeof diagnosticsChannelNames): Record<string, unknown>[] {
  const received: Record<string, unknown>[] = [];
  const listener = (message: unknown) => received.push(message as Record<string, unknown>);
  subscribe(diagnosticsChannelNames[event], listener);
  subscriptions.push([diagnosticsChannelNames[event], listener]);
  return received;
}

const ok = defineWorker({ name: "channels.ok", perform: async () => "done" });
const failing = defineWorker({
  name: "channels.fail",
  maxAttempts: 1,
  perform: async () => {
    throw new Error("boom");
  },
});

test("job events reach their diagnostics channels with the queue, with no listener on it", async () => {
  const queue = makeQueue({ queues: { default: 2 }, workers: [ok, failing] });
  await queue.migrate();
  const inserted = collect("jobs:insert");
  const started = collect("job:start");
  const completed = collect("job:complete");
  const discarded = collect("job:discard");
  await queue.start();
  const job = await queue.insert(ok, {});
  const bad = await queue.insert(failing, {});
  await waitFor(() => completed.length === 1 && discarded.length === 1);
  expect(queue.listenerCount("job:complete")).toBe(0);
  expect(inserted.map((m) => m.count)).toEqual([1, 1]);
  expect(started.length).toBe(2);
  expect(completed[0]).toMatchObject({ queue, job: { id: job.id, state: "completed" } });
  expect(completed[0]?.result).toBe("done");
  expect(completed[0]?.durationMs).toEqual(expect.any(Number));
  expect(discarded[0]).toMatchObject({ queue, job: { id: bad.id, state: "discarded" } });
});

test("maintenance events reach their channels", async () => {
  const queue = makeQueue({ queues: { default: 1 }, pruner: { interval: 1 } });
  await queue.migrate();
  const pruned = collect("maintenance:prune");
  const leaders = collect("leader:change");
  await queue.start();
  await waitFor(() => pruned.length >= 1);
  expect(pruned[0]).toMatchObject({ queue, deleted: 0, durationMs: expect.any(Number) });
  expect(leaders[0]).toMatchObject({ queue, isLeader: true, node: queue.node });
  expect(queue.plugins.some((p) => p instanceof Pruner)).toBe(true);
});
