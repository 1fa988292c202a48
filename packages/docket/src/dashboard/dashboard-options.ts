import { z } from "zod";
import type { Queue } from "../queue.js";
import { durationMs } from "../validation/duration.js";
import { zodToConfigError } from "../validation/zod-errors.js";

/** What {@link DashboardOptions.authorize} may answer for a request. */
export type DashboardAccess = "full" | "read-only" | "deny";

/** The request as `authorize` sees it. */
export interface DashboardRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** The server's own request object: a `node:http` IncomingMessage, or a Fetch `Request`. */
  raw: unknown;
}

/** An answer of `authorize`: the access, and who it is for the audit event. */
export interface DashboardAuthorization {
  access: DashboardAccess;
  user?: string;
}

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /** The queue whose database the dashboard shows. It need not be started. */
  queue: Queue;
  /**
   * The path the dashboard is served under when the server passes full URLs (plain
   * `http.createServer`): `"/admin/docket"`. Frameworks that strip their mount path (Express
   * `app.use("/admin/docket", …)`) need none. Links are relative, so either works behind proxies.
   */
  basePath?: string;
  /**
   * Decides each request: `"full"`, `"read-only"` or `"deny"` (or `{ access, user }`, the user
   * named in audit events). Default: full access — put the dashboard behind your own auth.
   */
  authorize?: (
    request: DashboardRequest,
  ) => DashboardAccess | DashboardAuthorization | Promise<DashboardAccess | DashboardAuthorization>;
  /** Hides every action and refuses them (403), whatever `authorize` says. Default false. */
  readOnly?: boolean;
  /** Each dashboard query's `statement_timeout`. Default 5s. */
  statementTimeout?: number | string;
  /** Counts up to this are exact; above it they are estimated. Default 1,000. */
  exactCountLimit?: number;
  /** How long the queues page's counts are reused. Default 2s. */
  cacheTtl?: number | string;
  /** Jobs changed per statement by a bulk action on a filter. Default 1,000. */
  bulkBatchSize?: number;
}

const basePath = z
  .string()
  .regex(/^(\/[A-Za-z0-9._~%-]+)*\/?$/, 'must be a path like "/admin/docket"')
  .transform((p) => p.replace(/\/+$/, ""));

const schema = z
  .object({
    queue: z.custom<Queue>(
      (v) => typeof v === "object" && v !== null && typeof (v as Queue).listJobs === "function",
      "must be a docket Queue",
    ),
    basePath: basePath.default(""),
    authorize: z
      .custom<NonNullable<DashboardOptions["authorize"]>>(
        (v) => typeof v === "function",
        "must be a function",
      )
      .optional(),
    readOnly: z.boolean().default(false),
    statementTimeout: durationMs({ min: 100 }).default(5_000),
    exactCountLimit: z.number().int().min(0).max(10_000_000).default(1_000),
    cacheTtl: durationMs().default(2_000),
    bulkBatchSize: z.number().int().min(1).max(100_000).default(1_000),
  })
  .strict();

/** Dashboard options after parsing: durations in milliseconds. */
export type ParsedDashboardOptions = z.output<typeof schema>;

/** Parses `createDashboard`'s options, throwing a ConfigError that names the offending key. */
export function parseDashboardOptions(options: DashboardOptions): ParsedDashboardOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) throw zodToConfigError(parsed.error, "createDashboard", schema);
  return parsed.data;
}
