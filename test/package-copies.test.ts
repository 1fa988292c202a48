import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import type { CleanupTarget, Worker } from "../packages/docket/src/index.js";
import { drainQueue } from "../packages/docket/src/testing/index.js";
import { useTestDatabase } from "./support/database.js";
import { queueFactory } from "./support/queues.js";

// The worker modules that `docket start` loads may resolve another copy of docket than the one
// that runs them. Here the queue is this workspace's source and the workers come from a copy of
// the built package in a temporary directory: its classes are other classes.

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const packageDir = fileURLToPath(new URL("../packages/docket/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "docket-copy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let loaded: Promise<{ workers: Worker[]; target: CleanupTarget }> | undefined;

/** The workers and a cleanup target, made by a copy of the built package (made once). */
function loadCopy(): Promise<{ workers: Worker[]; target: CleanupTarget }> {
  loaded ??= makeCopy();
  return loaded;
}

async function makeCopy(): Promise<{ workers: Worker[]; target: CleanupTarget }> {
  const copy = join(dir, "docket");
  cpSync(join(packageDir, "dist"), join(copy, "dist"), { recursive: true });
  cpSync(join(packageDir, "package.json"), join(copy, "package.json"));
  // The copy's own imports (zod, postgres, kysely) resolve as the package's do.
  symlinkSync(join(packageDir, "node_modules"), join(copy, "node_modules"), "dir");
  const module = join(dir, "workers.mjs");
  writeFileSync(
    module,
    `import { cancel, defineCleanupTarget, defineWorker, snooze } from "./docket/dist/index.js";
export const workers = [
  defineWorker({ name: "copy.snoozes", perform: () => snooze("1h") }),
  defineWorker({ name: "copy.cancels", perform: () => cancel("not needed") }),
];
export const target = defineCleanupTarget({
  name: "CopyLogs",
  table: "copy_logs",
  expired: { column: "expires_at" },
});
`,
  );
  return import(module);
}

describe("values made by another copy of docket", () => {
  test("a snooze() is stored as snoozed and a cancel() as cancelled, not as completed", async () => {
    const { workers } = await loadCopy();
    const queue = makeQueue({ testing: "manual", workers });
    const snoozed = await queue.insert("copy.snoozes", {});
    const cancelled = await queue.insert("copy.cancels", {});
    expect(await drainQueue(queue)).toMatchObject({ completed: 0, snoozed: 1, cancelled: 1 });
    expect(await queue.getJob(snoozed.id)).toMatchObject({
      state: "scheduled",
      attempt: 0,
      meta: { snoozed: 1 },
    });
    const stored = await queue.getJob(cancelled.id);
    expect(stored).toMatchObject({ state: "cancelled" });
    expect(stored?.meta).not.toHaveProperty("result");
  });

  test("its workers and cleanup targets are recognised", async () => {
    const { workers, target } = await loadCopy();
    expect(() => makeQueue({ testing: "manual", workers })).not.toThrow();
    const queue = makeQueue({ testing: "manual", cleanup: [target] });
    expect(queue.cleanupTargets().map((t) => t.name)).toContain("CopyLogs");
  });
});
