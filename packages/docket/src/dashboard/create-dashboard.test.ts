import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { partitionedSuite } from "../../../../test/support/partitioned-suite.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { ConfigError } from "../errors.js";
import { defineWorker } from "../workers/define-worker.js";
import { createDashboard } from "./create-dashboard.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const email = defineWorker({ name: "email.send", async perform() {} });

afterEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.queues`;
});

const get = (handler: ReturnType<typeof createDashboard>, url: string, init?: RequestInit) =>
  handler.fetch(new Request(url, init));

describe("createDashboard", () => {
  test("bad options name the option", () => {
    const queue = makeQueue();
    expect(() => createDashboard({ queue, basePath: "admin" })).toThrow(ConfigError);
    expect(() => createDashboard({ queue, basePath: "admin" })).toThrow(/basePath/);
    expect(() => createDashboard({ queue, exactCountLimit: -1 })).toThrow(/exactCountLimit/);
    // @ts-expect-error: not a queue
    expect(() => createDashboard({ queue: {} })).toThrow(/queue: must be a docket Queue/);
  });

  test(".fetch serves the same pages; the base path without its slash redirects to it", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, { to: "a" });
    const handler = createDashboard({ queue, basePath: "/admin/docket" });
    const bare = await get(handler, "http://x/admin/docket");
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("docket/");
    expect((await get(handler, "http://x/elsewhere")).status).toBe(404);
    const page = await get(handler, `http://x/admin/docket/jobs/${job.id}`);
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain(`Job ${job.id} · email.send`);
    // Relative links: one level up from /jobs/<id> is the dashboard's root.
    expect(body).toContain('href="../assets/dashboard.css"');
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  test("mounted by a framework that strips its path (Express's originalUrl), links stay relative", async () => {
    const queue = makeQueue({ workers: [email] });
    const handler = createDashboard({ queue });
    const server = createServer((req, res) => {
      // What Express does for app.use("/ops", handler): strip the mount path, keep the original.
      const original = req.url ?? "/";
      Object.assign(req, { originalUrl: original, url: original.replace(/^\/ops/, "") || "/" });
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const bare = await fetch(`${base}/ops`, { redirect: "manual" });
      expect(bare.status).toBe(308);
      expect(bare.headers.get("location")).toBe("ops/");
      const jobs = await fetch(`${base}/ops/jobs`);
      expect(await jobs.text()).toContain('href="./assets/dashboard.css"');
      const css = await fetch(`${base}/ops/assets/dashboard.css`);
      expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a bad filter is a 400 page naming it, not a crash", async () => {
    const handler = createDashboard({ queue: makeQueue() });
    const response = await get(handler, "http://x/jobs?state=sleeping");
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("state: &quot;sleeping&quot; is not a job state");
    const pair = await get(handler, "http://x/jobs?args=nokey");
    expect(pair.status).toBe(400);
  });

  test("counts above exactCountLimit are estimated from statistics and marked", async () => {
    const queue = makeQueue({ workers: [email] });
    await queue.insertMany(
      email,
      Array.from({ length: 40 }, () => ({})),
    );
    await db.sql`UPDATE docket.jobs SET state = 'completed', completed_at = now()`;
    await queue.insertMany(email, [{}, {}]);
    await db.sql`ANALYZE docket.jobs`;
    const handler = createDashboard({ queue, exactCountLimit: 10 });
    const body = await (await get(handler, "http://x/")).text();
    // The planner's estimate: 40 on the plain table; a partitioned table adds the guesses for its
    // day partitions (44 seen), still far from a count of every row.
    const shown = /data-state="completed"[^>]*><a [^>]*title="estimated">~(\d+)</.exec(body);
    expect(Number(shown?.[1])).toBeGreaterThanOrEqual(40);
    expect(Number(shown?.[1])).toBeLessThanOrEqual(partitionedSuite() ? 50 : 40);
    expect(body).toMatch(/data-state="available"[^>]*><a [^>]*>2</);
  });

  test("every read runs under the statement timeout: a locked table fails the page fast", async () => {
    const queue = makeQueue({ workers: [email] });
    const handler = createDashboard({ queue, statementTimeout: "300ms" });
    const errors: unknown[] = [];
    queue.on("queue:error", ({ error }) => errors.push(error));
    const locker = await db.sql.reserve();
    try {
      await locker`BEGIN`;
      await locker`LOCK TABLE docket.jobs IN ACCESS EXCLUSIVE MODE`;
      const started = Date.now();
      const response = await get(handler, "http://x/jobs");
      expect(response.status).toBe(500);
      // Bounded by the 300 ms statement timeout (over 30 times over), not by the lock, which is
      // held until the end of the test.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((errors[0] as { code?: string }).code).toBe("57014"); // query_canceled
    } finally {
      await locker`ROLLBACK`;
      locker.release();
    }
  });

  test("posts need the same origin: Sec-Fetch-Site, else a matching Origin", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, {});
    const handler = createDashboard({ queue });
    const post = (headers: Record<string, string>) =>
      get(handler, `http://x/jobs/${job.id}/cancel`, { method: "POST", headers, body: "" });
    expect((await post({})).status).toBe(403);
    expect((await post({ "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await post({ origin: "http://evil.example", host: "x" })).status).toBe(403);
    expect((await queue.getJob(job.id))?.state).toBe("available");
    const ok = await post({ origin: "http://x", host: "x" });
    expect(ok.status).toBe(303);
    expect((await queue.getJob(job.id))?.state).toBe("cancelled");
  });
});
