import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  createDashboard,
  type DashboardOptions,
} from "../../packages/docket/src/dashboard/index.js";
import { type DashboardAction, defineWorker, type Queue } from "../../packages/docket/src/index.js";
import { useBrowser } from "../support/browser.js";
import { useTestDatabase } from "../support/database.js";
import { queueFactory } from "../support/queues.js";
import { waitFor } from "../support/wait.js";

// The dashboard in a real Chromium against a real PostgreSQL, mounted under /admin/docket in a
// plain http.createServer, as docs/dashboard.md shows.

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const browser = useBrowser();

const email = defineWorker({ name: "email.send", queue: "mailers", async perform() {} });
const exportJob = defineWorker({ name: "reports.export", async perform() {} });

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs, docket.queues, docket.producers`;
});

/** Serves a dashboard of `queue` under /admin/docket; returns the dashboard's URL. */
async function serve(queue: Queue, options: Partial<DashboardOptions> = {}): Promise<string> {
  const dashboard = createDashboard({ queue, basePath: "/admin/docket", ...options });
  const server = createServer(dashboard);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/docket/`;
}

async function newPage(): Promise<Page> {
  const context = await browser.get().newContext();
  const page = await context.newPage();
  page.on("pageerror", (error) => {
    throw error;
  });
  return page;
}

/** Clicks something that submits or navigates, and waits for the next page to load. */
async function go(page: Page, selector: string): Promise<void> {
  await page.click(selector);
  await page.waitForLoadState("load");
}

async function jobState(id: string): Promise<string | undefined> {
  const [row] = await db.sql<
    { state: string }[]
  >`SELECT state::text FROM docket.jobs WHERE id = ${id}`;
  return row?.state;
}

describe("dashboard in a browser", () => {
  test("the queues page shows each queue's jobs per state, linked to the jobs page", async () => {
    const queue = makeQueue({ workers: [email, exportJob] });
    await queue.insertMany(email, [{}, {}, {}]);
    await queue.insert(exportJob, {}, { scheduleIn: "1h" });
    const page = await newPage();
    await page.goto(await serve(queue));
    const mailers = page.locator('tr[data-queue="mailers"]');
    await expect(mailers.locator('td[data-state="available"]').textContent()).resolves.toBe("3");
    const defaults = page.locator('tr[data-queue="default"]');
    await expect(defaults.locator('td[data-state="scheduled"]').textContent()).resolves.toBe("1");
    await mailers.locator('td[data-state="available"] a').click();
    await page.waitForLoadState("load");
    expect(await page.locator("tr[data-job]").count()).toBe(3);
    expect(new URL(page.url()).pathname).toBe("/admin/docket/jobs");
  });

  test("the queues page charts the last hour from the job_stats history", async () => {
    const queue = makeQueue({ workers: [email] });
    // Minutes as the leader's rollup writes them: 12 completed and 3 discarded, 5 minutes ago;
    // 30 completed 2 minutes ago; one row older than the hour, which is not drawn.
    await db.sql`TRUNCATE docket.job_stats`;
    await db.sql`
      INSERT INTO docket.job_stats (minute, queue, worker, outcome, count, exec_p50_ms, exec_p95_ms, exec_max_ms)
      VALUES
        (date_trunc('minute', now()) - interval '5 minutes', 'mailers', 'email.send', 'completed', 12, 40, 90, 120),
        (date_trunc('minute', now()) - interval '5 minutes', 'mailers', 'email.send', 'discarded', 3, 10, 20, 30),
        (date_trunc('minute', now()) - interval '2 minutes', 'mailers', 'email.send', 'completed', 30, 50, 250, 300),
        (date_trunc('minute', now()) - interval '3 hours', 'mailers', 'email.send', 'completed', 999, 1, 1, 1)`;
    const page = await newPage();
    await page.goto(await serve(queue));
    const charts = page.locator("[data-charts]");
    await expect(charts.locator("h3").first().textContent()).resolves.toBe(
      "Finished per minute, last hour (45)",
    );
    expect(await charts.locator("rect.completed").count()).toBe(2);
    expect(await charts.locator("rect.discarded").count()).toBe(1);
    await expect(charts.locator("rect.discarded title").textContent()).resolves.toBe("3 discarded");
    await expect(charts.locator("h3").nth(1).textContent()).resolves.toBe(
      "Execution time p95 per minute (peak 250 ms)",
    );
    // Styled by the dashboard's stylesheet (the CSP allows no inline style): bars are coloured.
    const fill = await charts
      .locator("rect.completed")
      .first()
      .evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).fill);
    expect(fill).not.toBe("rgb(0, 0, 0)");
    if (process.env.DOCKET_SCREENSHOTS)
      await page.screenshot({ path: process.env.DOCKET_SCREENSHOTS, fullPage: true });
  });

  test("filters jobs by worker and by an args value", async () => {
    const queue = makeQueue({ workers: [email, exportJob] });
    const mail = await queue.insertMany(email, [
      { accountId: 1 },
      { accountId: 2 },
      { accountId: 1 },
    ]);
    await queue.insert(exportJob, { accountId: 1 });
    const page = await newPage();
    await page.goto(`${await serve(queue)}jobs`);
    expect(await page.locator("tr[data-job]").count()).toBe(4);
    await page.fill('input[name="worker"]', "email.send");
    await page.fill('input[name="args"]', "accountId=1");
    await go(page, "form.filters button");
    const ids = await page
      .locator("tr[data-job]")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job")));
    expect(ids.sort()).toEqual([mail[0]?.id, mail[2]?.id].sort());
  });

  test("keyset pagination: the next page continues where the first ended", async () => {
    const queue = makeQueue({ workers: [email] });
    const jobs = await queue.insertMany(
      email,
      Array.from({ length: 60 }, () => ({})),
    );
    const page = await newPage();
    await page.goto(`${await serve(queue)}jobs`);
    const first = await page
      .locator("tr[data-job]")
      .evaluateAll((r) => r.map((x) => x.getAttribute("data-job")));
    await go(page, "a.next");
    const second = await page
      .locator("tr[data-job]")
      .evaluateAll((r) => r.map((x) => x.getAttribute("data-job")));
    expect(first).toHaveLength(50);
    expect([...first, ...second]).toEqual(jobs.map((j) => j.id).reverse());
  });

  test("a job's page shows its args, its errors with their stack, and its node", async () => {
    const failing = defineWorker({
      name: "flaky",
      maxAttempts: 1,
      async perform() {
        throw new Error("smtp refused <b>bold</b>");
      },
    });
    const queue = makeQueue({ queues: { default: 1 }, workers: [failing] });
    const job = await queue.insert(failing, { to: "ada@example.com" });
    await queue.start();
    await waitFor(async () => (await jobState(job.id)) === "discarded");
    const page = await newPage();
    await page.goto(`${await serve(queue)}jobs/${job.id}`);
    await expect(page.locator("pre.json").first().textContent()).resolves.toContain(
      '"to": "ada@example.com"',
    );
    await expect(page.locator("pre.error").textContent()).resolves.toBe(
      "Error: smtp refused <b>bold</b>",
    );
    await page.click("details summary");
    await expect(page.locator("details pre").textContent()).resolves.toContain("perform");
    await expect(page.locator("dl.fields").textContent()).resolves.toContain(queue.node);
  });

  test("executing jobs show their progress in the list and on their page", async () => {
    const release = new Set<string>();
    const importer = defineWorker<{ rows: number }>({
      name: "import.rows",
      queue: "imports",
      async perform(job, { progress }) {
        progress(job.args.rows === 0 ? { stage: "downloading", bytes: 1_048_576 } : 42);
        await waitFor(() => release.has(job.id), { timeoutMs: 60_000 });
      },
    });
    const queue = makeQueue({
      queues: { imports: 3 },
      workers: [importer, email],
      progressInterval: 0.05,
    });
    await queue.insertMany(email, [{}, {}]);
    const [percent, stage] = await queue.insertMany(importer, [{ rows: 400 }, { rows: 0 }]);
    if (!percent || !stage) throw new Error("two jobs expected");
    await queue.start();
    await waitFor(async () => {
      const [a, b] = await Promise.all([queue.getJob(percent.id), queue.getJob(stage.id)]);
      return a?.meta.progress !== undefined && b?.meta.progress !== undefined;
    });
    try {
      const page = await newPage();
      const base = await serve(queue);
      await page.goto(`${base}jobs?state=executing`);
      const row = page.locator(`tr[data-job="${percent.id}"]`);
      await expect(row.locator("progress").getAttribute("value")).resolves.toBe("42");
      await expect(row.locator(".progress").textContent()).resolves.toContain("42%");
      await expect(
        page.locator(`tr[data-job="${stage.id}"] .progress code`).textContent(),
      ).resolves.toBe('{"bytes":1048576,"stage":"downloading"}'); // jsonb's key order
      const shots = process.env.DOCKET_PROGRESS_SCREENSHOTS;
      if (shots) await page.screenshot({ path: `${shots}/dashboard-progress-jobs.png` });
      await page.goto(`${base}jobs/${percent.id}`);
      await expect(page.locator("dl.fields progress").getAttribute("value")).resolves.toBe("42");
      if (shots) await page.screenshot({ path: `${shots}/dashboard-progress-job.png` });
    } finally {
      release.add(percent.id);
      release.add(stage.id);
    }
  });

  test("retrying a discarded job changes its row in the database", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, {});
    await db.sql`UPDATE docket.jobs SET state = 'discarded', discarded_at = now() WHERE id = ${job.id}`;
    const page = await newPage();
    await page.goto(`${await serve(queue)}jobs/${job.id}`);
    await page.click('form[action$="/retry"] button');
    await expect(page.locator(".flash").textContent()).resolves.toBe(`Retried job ${job.id}`);
    expect(await jobState(job.id)).toBe("available");
  });

  test("deleting asks first: dismissed, nothing happens; accepted, the job is gone", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, {});
    const page = await newPage();
    await page.goto(`${await serve(queue)}jobs/${job.id}`);
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.click('form[action$="/delete"] button');
    expect(await jobState(job.id)).toBe("available");
    page.once("dialog", (dialog) => void dialog.accept());
    await Promise.all([
      page.waitForURL(/\/jobs\?flash=/),
      page.click('form[action$="/delete"] button'),
    ]);
    expect(await jobState(job.id)).toBeUndefined();
  });

  test("bulk cancel by filter: counts first, asks, then cancels every matching job", async () => {
    const actions: DashboardAction[] = [];
    const queue = makeQueue({ workers: [email, exportJob] });
    queue.on("dashboard:action", (a) => actions.push(a));
    await queue.insertMany(
      email,
      Array.from({ length: 25 }, (_, i) => ({ accountId: i % 2 })),
    );
    await queue.insert(exportJob, { accountId: 1 });
    const page = await newPage();
    await page.goto(
      `${await serve(queue, { bulkBatchSize: 5 })}jobs?worker=email.send&args=accountId%3D1`,
    );
    await page.click('button[name="action"][value="cancel"]:has-text("Cancel…")');
    await expect(page.locator("p.confirm").textContent()).resolves.toContain("12 jobs matching");
    expect(await db.sql`SELECT 1 FROM docket.jobs WHERE state = 'cancelled'`).toHaveLength(0);
    await page.click("form.inline button");
    await expect(page.locator(".flash").textContent()).resolves.toContain("Cancelled 12 jobs");
    const rows = await db.sql<{ worker: string; account: number }[]>`
      SELECT worker, (args->>'accountId')::int AS account FROM docket.jobs WHERE state = 'cancelled'`;
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => r.worker === "email.send" && r.account === 1)).toBe(true);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({
      action: "cancel",
      filter: "worker = email.send, args.accountId = 1",
    });
    expect(actions[0]?.jobs).toHaveLength(12);
  });

  test("selecting jobs with select-all and retrying them", async () => {
    const queue = makeQueue({ workers: [email] });
    const jobs = await queue.insertMany(email, [{}, {}, {}]);
    await db.sql`UPDATE docket.jobs SET state = 'discarded', discarded_at = now()`;
    const page = await newPage();
    await page.goto(`${await serve(queue)}jobs?state=discarded`);
    await page.check("input[data-select-all]");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click('#selection button[value="retry"]');
    await expect(page.locator(".flash").textContent()).resolves.toBe(
      "Retried 3 of 3 selected jobs",
    );
    for (const job of jobs) expect(await jobState(job.id)).toBe("available");
  });

  test("pausing a queue stops its producers on a running node", async () => {
    const seen: string[] = [];
    const worker = defineWorker({
      name: "counted",
      queue: "mailers",
      async perform(job) {
        seen.push(job.id);
      },
    });
    const queue = makeQueue({ queues: { mailers: 2 }, workers: [worker] });
    await queue.start();
    const page = await newPage();
    const url = await serve(queue);
    await queue.insert(worker, {});
    await waitFor(() => seen.length === 1);
    await page.goto(url);
    await page.click('tr[data-queue="mailers"] form[action$="/pause"] button');
    await expect(page.locator(".flash").textContent()).resolves.toBe("Paused mailers");
    expect(queue.checkQueue("mailers")?.paused).toBe(true);
    const held = await queue.insert(worker, {});
    // Paused: the job waits through three poll intervals (0.2s each, see queueFactory), where
    // a running producer would have started it at once on its NOTIFY.
    await new Promise((r) => setTimeout(r, 600));
    expect(await jobState(held.id)).toBe("available");
    await page.click('tr[data-queue="mailers"] form[action$="/resume"] button');
    await waitFor(async () => (await jobState(held.id)) === "completed");
  });

  test("scaling a queue stores its limit for every node", async () => {
    const queue = makeQueue({ queues: { mailers: 2 }, workers: [email] });
    await queue.start();
    const page = await newPage();
    await page.goto(await serve(queue));
    await page.fill('tr[data-queue="mailers"] input[name="limit"]', "7");
    await page.click('tr[data-queue="mailers"] form.scale button');
    await expect(page.locator(".flash").textContent()).resolves.toBe("Scaled mailers to 7");
    expect(queue.checkQueue("mailers")?.limit).toBe(7);
    const [row] = await db.sql<
      { concurrency: number }[]
    >`SELECT concurrency FROM docket.queues WHERE name = 'mailers'`;
    expect(row?.concurrency).toBe(7);
  });

  test("read-only hides every action, and a forged POST gets 403", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, {});
    const url = await serve(queue, { readOnly: true });
    const page = await newPage();
    await page.goto(`${url}jobs/${job.id}`);
    expect(await page.locator("form[method=post]").count()).toBe(0);
    await page.goto(`${url}jobs`);
    expect(await page.locator("form[method=post], input[type=checkbox]").count()).toBe(0);
    await page.goto(url);
    expect(await page.locator("form[method=post]").count()).toBe(0);
    // A forged POST that passes the same-origin check: refused for being read-only.
    const forged = await fetch(`${url}jobs/${job.id}/delete`, {
      method: "POST",
      headers: { origin: new URL(url).origin, "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain("read-only");
    expect(await jobState(job.id)).toBe("available");
  });

  test("authorize decides per request: read-only for one user, refused for another", async () => {
    const queue = makeQueue({ workers: [email] });
    await queue.insert(email, {});
    const url = await serve(queue, {
      authorize: (request) =>
        request.headers.get("x-user") === "viewer"
          ? { access: "read-only", user: "viewer" }
          : "deny",
    });
    const context = await browser.get().newContext({ extraHTTPHeaders: { "x-user": "viewer" } });
    const page = await context.newPage();
    await page.goto(`${url}jobs`);
    await expect(page.locator(".badge").first().textContent()).resolves.toBe("read-only");
    expect(await page.locator("input[type=checkbox]").count()).toBe(0);
    const anonymous = await newPage();
    const response = await anonymous.goto(`${url}jobs`);
    expect(response?.status()).toBe(403);
  });

  test("a cross-site form post is refused and changes nothing", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, {});
    const url = await serve(queue);
    // Another origin (a second server) hosts a form that posts to the dashboard.
    const evil = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(
        `<form method="post" action="${url}jobs/${job.id}/delete"><button>win</button></form>`,
      );
    });
    servers.push(evil);
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    const page = await newPage();
    await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
    const [response] = await Promise.all([page.waitForResponse(/\/delete$/), page.click("button")]);
    expect(response.status()).toBe(403);
    expect(await jobState(job.id)).toBe("available");
  });

  test("the cron and nodes pages show entries with their next slot, and nodes with the leader", async () => {
    const hourly = defineWorker({ name: "reports.hourly", async perform() {} });
    const queue = makeQueue({
      queues: { default: 1 },
      workers: [hourly],
      cron: [{ expression: "0 * * * *", worker: "reports.hourly", name: "hourly-report" }],
    });
    await queue.start();
    await waitFor(async () => (await db.sql`SELECT 1 FROM docket.cron_entries`).length === 1);
    const page = await newPage();
    const url = await serve(queue);
    await page.goto(`${url}cron`);
    const next = new Date(Math.ceil((Date.now() + 1) / 3_600_000) * 3_600_000);
    await expect(page.locator("tbody tr").textContent()).resolves.toContain(
      `${next.toISOString().slice(0, 19).replace("T", " ")} UTC`,
    );
    await page.click('nav a:has-text("Nodes")');
    const node = page.locator(`tr[data-node="${queue.node}"]`);
    await expect(node.textContent()).resolves.toContain("leader");
    await expect(node.textContent()).resolves.toContain("alive");
  });

  test("every page loads under the strict CSP with its stylesheet and script", async () => {
    const queue = makeQueue({ workers: [email] });
    const job = await queue.insert(email, {});
    const url = await serve(queue);
    const page = await newPage();
    const violations: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") violations.push(m.text());
    });
    for (const path of [
      "",
      "jobs",
      `jobs/${job.id}`,
      "cron",
      "nodes",
      "bulk?action=retry&worker=email.send",
    ]) {
      const response = await page.goto(`${url}${path}`);
      expect(response?.status(), path).toBe(200);
      expect(response?.headers()["content-security-policy"]).toContain("default-src 'none'");
      const background = await page.evaluate("getComputedStyle(document.body).backgroundColor");
      expect(background, path).toBe("rgb(248, 250, 252)");
    }
    expect(violations).toEqual([]);
  });
});
