import { expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { nextEvent } from "../../../../test/support/wait.js";
import { ConfigError } from "../errors.js";
import { Queue } from "../queue.js";
import { defineWorker } from "../workers/define-worker.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const noop = defineWorker({ name: "conn.noop", async perform() {} });

const listenBackends = () =>
  db.sql`SELECT pid FROM pg_stat_activity
    WHERE application_name = 'docket listen' AND datname = current_database()`;

test("bad connection and listen options are refused, naming the key", () => {
  const refused = (options: object) => {
    try {
      new Queue(options as never);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error("accepted");
  };
  expect(refused({ connection: { url: db.url, prepar: false } })).toBe(
    'connection.prepar: unknown option (did you mean "prepare"?)',
  );
  expect(refused({ connection: { url: db.url, max: 1 } })).toMatch(/^connection\.max: /);
  expect(refused({ connection: db.url, listen: 5 })).toMatch(
    /^listen: must be true, false, a postgres:\/\/ URL or a postgres\.js sql instance/,
  );
});

test("{ url, prepare: false } runs jobs, and LISTEN has a connection of its own", async () => {
  const queue = makeQueue({
    connection: { url: db.url, prepare: false, max: 3 },
    queues: { default: 1 },
    workers: [noop],
    pollInterval: 60, // woken by NOTIFY only
  });
  await queue.start();
  expect(await listenBackends()).toHaveLength(1);
  const job = await queue.insert(noop, {});
  await nextEvent(queue, "job:complete", ({ job: j }) => j.id === job.id);
  await queue.stop({ grace: 1 });
  expect(await listenBackends()).toHaveLength(0);
});

test("listen: false LISTENs nowhere and the queue polls", async () => {
  const queue = makeQueue({
    listen: false,
    queues: { default: 1 },
    workers: [noop],
    pollInterval: 0.05,
  });
  await queue.start();
  const job = await queue.insert(noop, {});
  await nextEvent(queue, "job:complete", ({ job: j }) => j.id === job.id);
  expect(await listenBackends()).toHaveLength(0);
});
