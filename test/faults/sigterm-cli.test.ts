// Fault suite: SIGTERM to `docket start` in the middle of a load. The stop is graceful: running
// jobs finish or are handed back, nothing is left executing, no job is lost, and no attempt is
// used up by the stop.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { Queue } from "../../packages/docket/src/index.js";
import { startCli } from "../cli/cli-process.js";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import { createLedger, jobCounts } from "./support/ledger.js";

const db = useTestDatabase();
const workers = fileURLToPath(new URL("./fixtures/ledger-workers.js", import.meta.url));

test("SIGTERM under load: graceful stop, nothing left executing, nothing lost", async () => {
  await createLedger(db.sql);
  const total = 5_000;
  const inserter = new Queue({ connection: db.url, poolSize: 2 });
  await inserter.insertMany(
    "ledger.work",
    Array.from({ length: total }, (_, n) => ({ n })),
    { queue: "faults" },
  );
  await inserter.stop();

  const dir = mkdtempSync(join(tmpdir(), "docket-sigterm-"));
  const config = join(dir, "docket.toml");
  writeFileSync(
    config,
    [
      `modules = [${JSON.stringify(workers)}]`,
      "shutdown_grace = 2",
      "[queues]",
      "faults = 20",
      "",
    ].join("\n"),
  );
  const docket = startCli(["start", "--config", config], { env: { DOCKET_DATABASE_URL: db.url } });
  await docket.waitForStderr(/docket started/);
  await waitFor(async () => ((await jobCounts(db.sql)).completed ?? 0) >= 500, {
    timeoutMs: 60_000,
    what: "500 completed jobs",
  });
  docket.child.kill("SIGTERM");
  const result = await docket.exited;
  expect(result.code).toBe(0);

  const counts = await jobCounts(db.sql);
  expect(counts.executing).toBeUndefined();
  expect((counts.completed ?? 0) + (counts.available ?? 0)).toBe(total);
  expect(counts.completed).toBeGreaterThanOrEqual(500);
  expect(counts.available).toBeGreaterThan(0);
  // Jobs the stop handed back have their attempt refunded and no error recorded.
  const [handedBack] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs WHERE state = 'available' AND (attempt <> 0 OR errors <> '[]')`;
  expect(handedBack?.n).toBe(0);
  // Every completed job ran; none ran twice.
  const [ledger] = await db.sql<{ runs: number; jobs: number }[]>`
    SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS jobs FROM ledger`;
  expect(ledger?.runs).toBe(ledger?.jobs);
  expect(ledger?.jobs).toBeGreaterThanOrEqual(counts.completed ?? 0);
}, 120_000);
