import pLimit from "p-limit";
import { ConfigError, DocketError, JobNotFoundError } from "../errors.js";
import { queueInternals } from "../internals.js";
import type { Queue } from "../queue.js";
import { dashboardCss, dashboardJs } from "./assets.js";
import type { DashboardAction } from "./dashboard-action.js";
import { DashboardData } from "./dashboard-data.js";
import type { DashboardAuthorization, ParsedDashboardOptions } from "./dashboard-options.js";
import { type Html, html } from "./html.js";
import { describeFilter, readFilter, toJobFilter } from "./job-filter.js";
import { statsCharts } from "./pages/charts.js";
import { cronPage } from "./pages/cron-page.js";
import { jobPage } from "./pages/job-page.js";
import { confirmBulkPage, jobsPage } from "./pages/jobs-page.js";
import { layout, type PageContext } from "./pages/layout.js";
import { nodesPage } from "./pages/nodes-page.js";
import { queuesPage } from "./pages/queues-page.js";
import { isSameOrigin, securityHeaders } from "./security.js";

/** A request once the adapter has read it: the path below the base, query, form body. */
export interface RoutedRequest {
  method: string;
  /** The path below the dashboard's base, starting with `/`. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
  /** The posted form (empty for GET). */
  form: URLSearchParams;
  authorization: DashboardAuthorization;
}

/** What a route answers; the adapter writes it out. */
export interface RoutedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const jobActions = ["retry", "cancel", "delete"] as const;
type JobAction = (typeof jobActions)[number];

/** Every page and action of the dashboard, for one queue. */
export class DashboardRoutes {
  readonly #queue: Queue;
  readonly #options: ParsedDashboardOptions;
  readonly #data: DashboardData;
  /** Bulk actions on a filter run one at a time per dashboard, so they cannot pile up. */
  readonly #bulkLimit = pLimit(1);

  constructor(options: ParsedDashboardOptions) {
    this.#queue = options.queue;
    this.#options = options;
    const { sql } = options.queue[queueInternals]();
    this.#data = new DashboardData(sql, {
      schema: options.queue.schema,
      statementTimeoutMs: options.statementTimeout,
      exactCountLimit: options.exactCountLimit,
      cacheTtlMs: options.cacheTtl,
      heartbeatTimeoutMs: options.queue.options.heartbeat.timeout,
    });
  }

  /** Answers one request; never throws. */
  async handle(request: RoutedRequest): Promise<RoutedResponse> {
    const readOnly = this.#options.readOnly || request.authorization.access !== "full";
    const context = pageContext(request, readOnly);
    try {
      if (request.authorization.access === "deny") return text(403, "Forbidden");
      if (request.method === "GET" || request.method === "HEAD") {
        return await this.#get(request, context);
      }
      if (request.method !== "POST") return text(405, "Method not allowed", { allow: "GET, POST" });
      if (readOnly) return text(403, "This dashboard is read-only for you.");
      if (!isSameOrigin(request.headers)) return text(403, "Cross-site request refused.");
      return await this.#post(request, context);
    } catch (error) {
      if (error instanceof JobNotFoundError)
        return page(404, context, "Not found", "/jobs", html`<p>${error.message}</p>`);
      if (error instanceof ConfigError)
        return page(
          400,
          context,
          "Bad request",
          "/jobs",
          html`<p class="flash error">${error.message}</p>`,
        );
      this.#queue.emit("queue:error", { error, source: "dashboard" });
      const message =
        error instanceof DocketError ? error.message : "The request failed; see the server's log.";
      return page(500, context, "Error", "/", html`<p class="flash error">${message}</p>`);
    }
  }

  async #get(request: RoutedRequest, context: PageContext): Promise<RoutedResponse> {
    const { path, query } = request;
    if (path === "/assets/dashboard.css") return asset(dashboardCss, "text/css");
    if (path === "/assets/dashboard.js") return asset(dashboardJs, "text/javascript");
    if (path === "/") {
      const [queues, stats] = await Promise.all([
        this.#data.queues(),
        // History is optional (stats: false, or a schema before migration 0008): no charts then.
        this.#queue.stats({ since: "1h" }).catch(() => null),
      ]);
      const charts = statsCharts(stats, Date.now());
      return page(200, context, "Queues", "/", queuesPage(context, queues, charts));
    }
    if (path === "/jobs") {
      const filter = readFilter(query);
      const after = query.get("after") ?? undefined;
      const result = await this.#data.jobs(toJobFilter(filter), { after, limit: 50 });
      return page(200, context, "Jobs", "/jobs", jobsPage(context, filter, result));
    }
    const jobMatch = /^\/jobs\/(\d{1,19})$/.exec(path);
    if (jobMatch?.[1]) {
      const job = await this.#data.job(jobMatch[1]);
      if (!job) throw new JobNotFoundError(jobMatch[1]);
      return page(200, context, `Job ${job.id} · ${job.worker}`, "/jobs", jobPage(context, job));
    }
    if (path === "/bulk") {
      if (context.readOnly) return text(403, "This dashboard is read-only for you.");
      const action = bulkAction(query.get("action"));
      const filter = readFilter(query);
      const count = await this.#data.count(toJobFilter(filter), this.#options.exactCountLimit);
      const body = confirmBulkPage(context, action, filter, describeFilter(filter), count);
      return page(200, context, "Confirm", "/jobs", body);
    }
    if (path === "/cron")
      return page(200, context, "Cron", "/cron", cronPage(context, await this.#data.cron()));
    if (path === "/nodes")
      return page(200, context, "Nodes", "/nodes", nodesPage(context, await this.#data.nodes()));
    return page(404, context, "Not found", "/", html`<p>No such page.</p>`);
  }

  async #post(request: RoutedRequest, context: PageContext): Promise<RoutedResponse> {
    const { path, form } = request;
    const user = request.authorization.user;
    const jobMatch = /^\/jobs\/(\d{1,19})\/(retry|cancel|delete)$/.exec(path);
    if (jobMatch?.[1] && jobMatch[2]) {
      const id = jobMatch[1];
      const action = jobMatch[2] as JobAction;
      const changed = await this.#runOne(action, id);
      this.#audit({ action, user, jobs: changed ? [id] : [] });
      const done = changed
        ? `${pastTense(action)} job ${id}`
        : `Job ${id} could not be ${pastTense(action).toLowerCase()} in its state`;
      const target = action === "delete" && changed ? "/jobs" : `/jobs/${id}`;
      return redirect(context, target, done);
    }
    if (path === "/jobs/selected") {
      const action = bulkAction(form.get("action"));
      const ids = form.getAll("ids").filter((id) => /^\d{1,19}$/.test(id));
      if (ids.length === 0) return redirect(context, "/jobs", "No jobs selected");
      if (ids.length > 1000) throw new ConfigError("select at most 1,000 jobs", { path: "ids" });
      const changed = await this.#runMany(action, { ids }, ids.length);
      this.#audit({ action, user, jobs: changed });
      return redirect(
        context,
        "/jobs",
        `${pastTense(action)} ${changed.length} of ${ids.length} selected jobs`,
      );
    }
    if (path === "/bulk") {
      const action = bulkAction(form.get("action"));
      const filter = readFilter(form);
      const expected = Number(form.get("expected"));
      if (!Number.isInteger(expected) || expected < 0) {
        throw new ConfigError("expected: the confirmed count is missing", { path: "expected" });
      }
      const changed = await this.#bulkLimit(() =>
        this.#runMany(action, toJobFilter(filter), expected),
      );
      this.#audit({ action, user, jobs: changed, filter: describeFilter(filter) });
      return redirect(
        context,
        "/jobs",
        `${pastTense(action)} ${changed.length} jobs matching ${describeFilter(filter)}`,
      );
    }
    const queueMatch = /^\/queues\/([^/]+)\/(pause|resume|scale)$/.exec(path);
    if (queueMatch?.[1] && queueMatch[2]) {
      const name = decodeURIComponent(queueMatch[1]);
      const action = queueMatch[2] as "pause" | "resume" | "scale";
      if (action === "pause") await this.#queue.pauseQueue(name);
      else if (action === "resume") await this.#queue.resumeQueue(name);
      else {
        const limit = Number(form.get("limit"));
        await this.#queue.scaleQueue(name, limit);
        this.#audit({ action, user, queue: name, limit });
        this.#data.invalidate();
        return redirect(context, "/", `Scaled ${name} to ${limit}`);
      }
      this.#audit({ action, user, queue: name });
      this.#data.invalidate();
      return redirect(context, "/", `${action === "pause" ? "Paused" : "Resumed"} ${name}`);
    }
    return text(404, "No such action.");
  }

  async #runOne(action: JobAction, id: string): Promise<boolean> {
    this.#data.invalidate();
    if (action === "retry") return (await this.#queue.retryJob(id)) !== null;
    if (action === "cancel") return (await this.#queue.cancelJob(id)) !== null;
    return (await this.#queue.deleteJob(id)) !== null;
  }

  /** Runs a bulk action in batches until `max` jobs changed or none is left to change. */
  async #runMany(
    action: JobAction,
    filter: Parameters<Queue["retryJobs"]>[0],
    max: number,
  ): Promise<string[]> {
    this.#data.invalidate();
    const changed: string[] = [];
    const batch = this.#options.bulkBatchSize;
    while (changed.length < max) {
      const limit = Math.min(batch, max - changed.length);
      const options = { ...filter, limit };
      const jobs =
        action === "retry"
          ? await this.#queue.retryJobs(options)
          : action === "cancel"
            ? await this.#queue.cancelJobs(options)
            : await this.#queue.deleteJobs(options);
      for (const job of jobs) changed.push(job.id);
      if (jobs.length < limit) break;
    }
    return changed;
  }

  #audit(action: DashboardAction): void {
    this.#queue.emit("dashboard:action", action);
  }
}

function bulkAction(value: string | null): JobAction {
  if ((jobActions as readonly (string | null)[]).includes(value)) return value as JobAction;
  throw new ConfigError(`action: ${JSON.stringify(value)} is not retry, cancel or delete`, {
    path: "action",
  });
}

function pastTense(action: JobAction): string {
  return action === "retry" ? "Retried" : action === "cancel" ? "Cancelled" : "Deleted";
}

/** Links relative to the current page, so the dashboard works under any mount path or proxy. */
function pageContext(request: RoutedRequest, readOnly: boolean): PageContext {
  const depth = request.path.split("/").length - 2; // "/" and "/jobs": 0, "/jobs/1": 1
  const prefix = depth <= 0 ? "./" : "../".repeat(depth);
  return {
    link: (path: string) => prefix + path.replace(/^\//, ""),
    readOnly,
    flash: request.query.get("flash") ?? undefined,
  };
}

function page(
  status: number,
  context: PageContext,
  title: string,
  section: string,
  body: Html,
): RoutedResponse {
  return {
    status,
    headers: {
      ...securityHeaders,
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    },
    body: layout(context, { title, section, body }).text,
  };
}

function text(status: number, body: string, extra: Record<string, string> = {}): RoutedResponse {
  return {
    status,
    headers: { ...securityHeaders, "content-type": "text/plain; charset=utf-8", ...extra },
    body,
  };
}

function asset(body: string, type: string): RoutedResponse {
  return {
    status: 200,
    headers: {
      ...securityHeaders,
      "content-type": `${type}; charset=utf-8`,
      "cache-control": "public, max-age=300",
    },
    body,
  };
}

function redirect(context: PageContext, path: string, flash: string): RoutedResponse {
  const separator = path.includes("?") ? "&" : "?";
  const location = context.link(`${path}${separator}${new URLSearchParams({ flash })}`);
  return { status: 303, headers: { ...securityHeaders, location }, body: "" };
}
