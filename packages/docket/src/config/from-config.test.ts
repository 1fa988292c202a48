import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError, defineWorker, Queue } from "../index.js";

const db = useTestDatabase();

// The environment overrides the file: keep the runner's own database URL out of these tests.
const saved = {
  DATABASE_URL: process.env.DATABASE_URL,
  DOCKET_DATABASE_URL: process.env.DOCKET_DATABASE_URL,
};
beforeAll(() => {
  delete process.env.DATABASE_URL;
  delete process.env.DOCKET_DATABASE_URL;
});
afterAll(() => {
  for (const [key, value] of Object.entries(saved))
    if (value !== undefined) process.env[key] = value;
});

test("Queue.fromConfig runs the queues of the file with workers passed in code", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "docket-from-config-")), "docket.toml");
  writeFileSync(path, `database_url = "${db.url}"\nshutdown_grace = "5s"\n[queues]\ndefault = 2\n`);
  const double = defineWorker<{ n: number }>({
    name: "math.double",
    perform: (job) => job.args.n * 2,
  });
  const queue = await Queue.fromConfig(path, { workers: [double] });
  try {
    expect(queue.options.shutdownGrace).toBe(5_000);
    expect(Object.keys(queue.options.queues)).toEqual(["default"]);
    await queue.start();
    const job = await queue.insert(double, { n: 21 });
    const done = await waitFor(async () => {
      const current = await queue.getJob(job.id);
      return current?.state === "completed" && current;
    });
    expect(done.meta.result).toBe(42);
  } finally {
    await queue.stop();
  }
});

test("Queue.fromConfig refuses bad config with a ConfigError naming the file's key", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "docket-from-config-")), "docket.toml");
  writeFileSync(path, `database_url = "${db.url}"\n[lifeline]\nrescue_after = "forever"\n`);
  const error = await Queue.fromConfig(path).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).path).toBe("lifeline.rescue_after");
});
