import { afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { useTestDatabase } from "../../../../test/support/database.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError } from "../errors.js";
import { Queue } from "../queue.js";
import { defineWorker } from "../workers/define-worker.js";
import type { Cron } from "./cron.js";
import type { CronEntryOptions } from "./cron-options.js";

const db = useTestDatabase();

const report = defineWorker({
  name: "reports.hourly",
  args: z.object({ format: z.enum(["pdf", "csv"]) }).optional() as z.ZodType<
    { format?: string } | undefined
  >,
  perform: () => undefined,
});
const tick = defineWorker({ name: "tick", perform: () => undefined });

const made: Queue[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((q) => q.stop({ grace: 0 })));
  await db.sql`TRUNCATE docket.jobs, docket.cron_entries, docket.cron_slots`;
});

function queueWith(cron: CronEntryOptions[], extra: Record<string, unknown> = {}): Queue {
  const queue = new Queue({
    connection: db.url,
    poolSize: 3,
    workers: [report, tick],
    cron,
    ...extra,
  });
  made.push(queue);
  return queue;
}

function cronOf(queue: Queue): Cron {
  return queue.plugins.find((p) => p.name === "cron") as Cron;
}

const target = () => ({ executor: db.sql, schema: "docket" });

async function cronJobs() {
  return db.sql<{ id: string; worker: string; slot: string; scheduled_at: Date; args: unknown }[]>`
    SELECT id, worker, meta->'cron'->>'slot' AS slot, scheduled_at, args
    FROM docket.jobs ORDER BY scheduled_at, id`;
}

describe("construction", () => {
  test("a bad expression, time zone, worker or args fails in new Queue(), naming the entry", () => {
    expect(() => queueWith([{ expression: "61 * * * *", worker: "tick" }])).toThrow(
      'cron[0].expression: "61 * * * *" is not a valid cron expression: Constraint error, got value 61 expected range 0-59',
    );
    expect(() => queueWith([{ expression: "* * *", worker: "tick" }])).toThrow(
      /cron\[0\]\.expression: "\* \* \*" has 3 fields/,
    );
    expect(() =>
      queueWith([
        { expression: "@hourly", worker: "tick" },
        { expression: "@sometimes", worker: "tick" },
      ]),
    ).toThrow(/cron\[1\]\.expression: unknown nickname "@sometimes"/);
    expect(() =>
      queueWith([{ expression: "@daily", worker: "tick", timezone: "Mars/Olympus" }]),
    ).toThrow('cron[0].timezone: unknown time zone "Mars/Olympus"');
    const unknown = (() => {
      try {
        queueWith([{ expression: "@daily", worker: "report.hourly" }]);
      } catch (error) {
        return error;
      }
    })();
    expect(unknown).toBeInstanceOf(ConfigError);
    expect((unknown as ConfigError).path).toBe("cron[0].worker");
    expect((unknown as Error).message).toContain(
      'cron[0].worker: unknown worker "report.hourly" (did you mean "reports.hourly"?)',
    );
    expect(() =>
      queueWith([{ expression: "@daily", worker: "reports.hourly", args: { format: "doc" } }]),
    ).toThrow(/cron\[0\]\.args: args for worker "reports.hourly" are invalid: format/);
    expect(() =>
      queueWith([
        { expression: "@daily", worker: "tick" },
        { expression: "@daily", worker: "tick" },
      ]),
    ).toThrow(/cron\[1\]: entry named "tick @daily" twice/);
  });
});

describe("runOnce", () => {
  test("a new entry waits for its first slot; a due slot is inserted once with its args and options", async () => {
    const queue = queueWith([
      {
        expression: "0 * * * *",
        worker: "reports.hourly",
        args: { format: "pdf" },
        priority: 3,
        queue: "reports",
      },
    ]);
    const cron = cronOf(queue);
    const first = await cron.runOnce(target());
    expect(first.inserted).toEqual([]); // the slot of this hour came before the entry existed
    expect(first.nextSlotAt?.getUTCMinutes()).toBe(0);

    // As if the entry had been registered at half past, two hours ago, and never run.
    await db.sql`UPDATE docket.cron_entries SET created_at = date_trunc('hour', now()) - interval '90 minutes'`;
    const second = await cron.runOnce(target());
    expect(second.inserted).toHaveLength(1);
    const [insertion] = second.inserted;
    expect(insertion?.missed).toBe(1); // the slot before the latest was skipped
    const hour = new Date(Math.floor(second.now.getTime() / 3_600_000) * 3_600_000);
    expect(insertion?.slot).toEqual(hour);
    expect(insertion?.job).toMatchObject({
      worker: "reports.hourly",
      queue: "reports",
      priority: 3,
      args: { format: "pdf" },
      scheduledAt: hour,
      meta: {
        cron: { name: 'reports.hourly 0 * * * * {"format":"pdf"}', slot: hour.toISOString() },
      },
    });
    expect((await cron.runOnce(target())).inserted).toEqual([]);
    expect(await cronJobs()).toHaveLength(1);
  });

  test("after downtime: the latest missed slot only, or every one with catchUp: all", async () => {
    const queue = queueWith([
      { expression: "*/10 * * * *", worker: "tick", name: "latest" },
      { expression: "*/10 * * * *", worker: "tick", name: "all", catchUp: "all" },
    ]);
    const cron = cronOf(queue);
    await cron.runOnce(target());
    // The cluster was down for an hour: the last slot inserted was an hour ago.
    await db.sql`
      UPDATE docket.cron_entries
      SET created_at = now() - interval '1 day',
          last_slot = date_trunc('hour', now()) - interval '1 hour'`;
    const result = await cron.runOnce(target());
    const byEntry = (name: string) => result.inserted.filter((i) => i.entry === name);
    expect(byEntry("latest")).toHaveLength(1);
    expect(byEntry("latest")[0]?.missed).toBeGreaterThanOrEqual(5);
    const all = byEntry("all").map((i) => i.slot.getTime());
    expect(all.length).toBeGreaterThanOrEqual(6);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    for (let i = 1; i < all.length; i++)
      expect((all[i] as number) - (all[i - 1] as number)).toBe(600_000);
    expect(all.at(-1)).toBe(byEntry("latest")[0]?.slot.getTime());
  });

  test("many nodes running at once insert one job per slot: the database decides", async () => {
    const nodes = Array.from({ length: 5 }, () =>
      queueWith([{ expression: "* * * * * *", worker: "tick" }]),
    );
    await cronOf(nodes[0] as Queue).runOnce(target());
    await db.sql`UPDATE docket.cron_entries SET created_at = now() - interval '1 minute'`;
    const inserted: string[] = [];
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(nodes.map((node) => cronOf(node).runOnce(target())));
      inserted.push(...results.flatMap((r) => r.inserted.map((i) => i.slot.toISOString())));
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the next slot
    }
    const jobs = await cronJobs();
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    // Each slot once, though five nodes claimed each of them at the same moment.
    expect(new Set(jobs.map((j) => j.slot)).size).toBe(jobs.length);
    expect(inserted.sort()).toEqual(jobs.map((j) => j.slot).sort());
    const [slots] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.cron_slots`;
    expect(slots?.n).toBe(jobs.length);
  });
});

describe("on a started node", () => {
  test("the leader inserts each slot as it comes", async () => {
    const queue = queueWith([{ expression: "* * * * * *", worker: "tick" }], {
      leadership: { ttl: 1 },
    });
    const inserted: string[] = [];
    queue.on("cron:insert", ({ slot }) => inserted.push(slot.toISOString()));
    await queue.start();
    await waitFor(() => inserted.length >= 3, { what: "three slots", timeoutMs: 20_000 });
    const jobs = await cronJobs();
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    expect(new Set(jobs.map((j) => j.slot)).size).toBe(jobs.length);
    for (const job of jobs) expect(job.scheduled_at.getMilliseconds()).toBe(0);
  });

  test("a node that does not lead inserts nothing", async () => {
    const queue = queueWith([{ expression: "* * * * * *", worker: "tick" }], { leadership: false });
    await queue.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await cronJobs()).toEqual([]);
  });
});
