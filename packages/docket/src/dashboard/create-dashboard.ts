import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type DashboardOptions,
  type DashboardRequest,
  parseDashboardOptions,
} from "./dashboard-options.js";
import { DashboardRoutes, type RoutedResponse } from "./dashboard-routes.js";
import { normalizeAccess, securityHeaders } from "./security.js";

/** Posted forms larger than this are refused (a selection of 1,000 ids is about 25 KB). */
const maxBodyBytes = 256 * 1024;

/**
 * A `node:http` request handler serving the dashboard, with `.fetch` for Fetch-style servers.
 * Mount it in Express, Fastify, Koa or a plain `http.createServer`.
 */
export interface DashboardHandler {
  (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
  /** The same dashboard for servers that speak Fetch `Request`/`Response`. */
  fetch(request: Request): Promise<Response>;
}

/**
 * Creates the dashboard of a queue's database: queues, jobs, a job's detail, cron entries and
 * nodes, with retry / cancel / delete, pause / resume / scale. See docs/dashboard.md.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { createDashboard } from "docket/dashboard";
 *
 * const dashboard = createDashboard({ queue, basePath: "/admin/docket", authorize: (req) => "read-only" });
 * createServer(dashboard).listen(8080);
 * ```
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  const parsed = parseDashboardOptions(options);
  const routes = new DashboardRoutes(parsed);
  const base = parsed.basePath;

  async function answer(
    method: string,
    url: URL,
    headers: Headers,
    raw: unknown,
    readForm: () => Promise<URLSearchParams>,
    browserPath: string,
  ): Promise<RoutedResponse> {
    let path = url.pathname;
    if (base) {
      if (path !== base && !path.startsWith(`${base}/`)) {
        return { status: 404, headers: { ...securityHeaders }, body: "Not found" };
      }
      path = path.slice(base.length);
    }
    if (path === "" || (path === "/" && !browserPath.endsWith("/"))) {
      // Relative links need the base to end with a slash.
      const last = browserPath.split("/").pop() ?? "";
      return {
        status: 308,
        headers: { ...securityHeaders, location: `${last}/${url.search}` },
        body: "",
      };
    }
    const request: DashboardRequest = { method, url, headers, raw };
    const authorization = normalizeAccess(
      parsed.authorize ? await parsed.authorize(request) : "full",
    );
    const form =
      method === "POST" && authorization.access === "full"
        ? await readForm()
        : new URLSearchParams();
    return routes.handle({ method, path, query: url.searchParams, headers, form, authorization });
  }

  const handler = ((
    request: IncomingMessage,
    response: ServerResponse,
    next?: (error?: unknown) => void,
  ) => {
    const url = new URL(request.url ?? "/", "http://dashboard.invalid");
    const headers = new Headers();
    for (const [key, value] of Object.entries(request.headers)) {
      if (typeof value === "string") headers.set(key, value);
      else if (Array.isArray(value)) headers.set(key, value.join(", "));
    }
    // Express and Connect strip their mount path from `url` and keep the whole in `originalUrl`.
    const original = (request as { originalUrl?: string }).originalUrl;
    const browserPath = new URL(original ?? request.url ?? "/", "http://dashboard.invalid")
      .pathname;
    answer(request.method ?? "GET", url, headers, request, () => readNodeForm(request), browserPath)
      .then((result) => {
        response.writeHead(result.status, result.headers);
        response.end(request.method === "HEAD" ? undefined : result.body);
      })
      .catch((error: unknown) => {
        if (next) next(error);
        else {
          response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
          response.end("Internal error");
        }
      });
  }) as DashboardHandler;

  handler.fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const result = await answer(
      request.method,
      url,
      request.headers,
      request,
      async () => new URLSearchParams(await readLimited(await request.arrayBuffer())),
      url.pathname,
    );
    const body = result.body === "" || request.method === "HEAD" ? null : result.body;
    return new Response(body, { status: result.status, headers: result.headers });
  };
  return handler;
}

function readLimited(buffer: ArrayBuffer): string {
  if (buffer.byteLength > maxBodyBytes) throw new RangeError("form too large");
  return new TextDecoder().decode(buffer);
}

/** The posted form: from a body parser that ran already (`request.body`), else read here. */
async function readNodeForm(request: IncomingMessage): Promise<URLSearchParams> {
  const parsedBody = (request as { body?: unknown }).body;
  if (parsedBody && typeof parsedBody === "object" && !Buffer.isBuffer(parsedBody)) {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(parsedBody as Record<string, unknown>)) {
      for (const item of Array.isArray(value) ? value : [value]) form.append(key, String(item));
    }
    return form;
  }
  if (typeof parsedBody === "string") return new URLSearchParams(parsedBody);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new RangeError("form too large");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
