import type { Sql } from "postgres";
import { z } from "zod";
import { cronExpressionSchema, timeZoneSchema } from "../cron/cron-options.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import type {
  ParsedHeartbeatOptions,
  ParsedLifelineOptions,
  ParsedPrunerOptions,
} from "../maintenance/maintenance-options.js";
import type { ArchivePeriod, BatchTable } from "../sql/maintenance/cleanup.js";
import type { JsonValue } from "../types.js";
import { cleanupTargetBrand, hasBrand } from "../validation/brand.js";
import { type Duration, durationMs } from "../validation/duration.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { nameSchema } from "../workers/define-worker.js";

/** What a target's custom `run` receives. */
export interface CleanupContext {
  /** docket's postgres.js client: write tagged templates, or `sql.begin` for a transaction. */
  readonly sql: Sql;
  /** The schema holding docket's tables. */
  readonly schema: string;
  /** The target's name. */
  readonly target: string;
  /** The target's table as the catalog describes it, when the target names one. */
  readonly table: BatchTable | undefined;
  /** Rows per statement: keep each statement's locks short. */
  readonly batchSize: number;
  /** Aborts when the run's timeout passes or the node shuts down: stop between batches. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** The options of the queue running the target that a target may read. */
  readonly options: Readonly<CleanupQueueOptions>;
  /** True once the run should stop (`signal.aborted`). */
  shouldStop(): boolean;
}

/**
 * The part of the running queue's parsed options that cleanup targets read (the built-in `jobs`
 * target follows the pruner's retention; `producers` the heartbeat timeout).
 */
export interface CleanupQueueOptions {
  readonly schema: string;
  readonly node: string;
  readonly heartbeat: ParsedHeartbeatOptions;
  readonly pruner: ParsedPrunerOptions | false;
  readonly lifeline: ParsedLifelineOptions | false;
}

/** What a custom `run` returns. */
export interface CustomCleanupResult {
  /** Rows (or objects) deleted. */
  deleted: number;
  /** Anything worth keeping in the run's result, as JSON. */
  details?: Record<string, JsonValue>;
  /** False if it stopped before it was done; by default, whether the signal had not aborted. */
  complete?: boolean;
}

/** The options of {@link defineCleanupTarget}. */
export interface CleanupTargetOptions {
  /**
   * The target's name: letters, digits and `_`, starting with a letter (`DeploymentLogRecord`).
   * Its worker is `cleanup:<name>`; its environment variables `CLEANUP_<NAME>_CRON` and
   * `CLEANUP_<NAME>_TIMEOUT` (in SCREAMING_SNAKE_CASE).
   */
  name: string;
  /** One line for `docket cleanup --list`. */
  description?: string;
  /** The table, `name` or `schema.name` (exact names, as in the catalog). */
  table?: string;
  /** Deletes rows whose `column` is older than `olderThan`. */
  maxAge?: { column: string; olderThan: Duration };
  /** Keeps the newest `count` rows of each group of `partitionBy` by `orderBy`; deletes the rest. */
  keepLatest?: { count: number; partitionBy: string | string[]; orderBy: string };
  /** Deletes rows whose `column` (an expiry time) is in the past. */
  expired?: { column: string };
  /** Anything else: deletes what it likes, in batches, and says how many. */
  run?: (context: CleanupContext) => Promise<CustomCleanupResult> | CustomCleanupResult;
  /**
   * Moves rows into dated tables (`<table>_archive_2026_11`, by each row's date in UTC) instead
   * of deleting them. `true`, or `{ prefix, period }` to name and date them otherwise.
   */
  archive?: boolean | { prefix?: string; period?: ArchivePeriod };
  /** Rows per statement. Default 1,000. */
  batchSize?: number;
  /** A cron expression: when the target runs on its own. Default: never (run it by hand). */
  schedule?: string | false;
  /** The time zone of `schedule`. Default UTC. */
  timezone?: string;
  /** The run stops between batches after this long and reports how far it got. Default none. */
  timeout?: Duration;
  /** The queue its jobs go to. Default `maintenance`. */
  queue?: string;
  /** Attempts of a run that fails with an error. Default 3. */
  maxAttempts?: number;
}

/** How a target picks the rows it deletes. */
export type CleanupStrategy =
  | { kind: "maxAge"; column: string; olderThanMs: number }
  | { kind: "expired"; column: string }
  | { kind: "keepLatest"; count: number; partitionBy: string[]; orderBy: string }
  | { kind: "custom"; run: NonNullable<CleanupTargetOptions["run"]> };

/** A cleanup target: what {@link defineCleanupTarget} returns. */
export interface CleanupTarget {
  readonly kind: typeof cleanupTargetKind;
  readonly name: string;
  /** The worker that runs it: `cleanup:<name>`. */
  readonly worker: string;
  readonly description: string;
  readonly table: { schema: string | undefined; name: string } | undefined;
  readonly strategy: CleanupStrategy;
  readonly archive: { prefix: string; period: ArchivePeriod } | undefined;
  readonly batchSize: number;
  readonly schedule: string | undefined;
  readonly timezone: string;
  readonly timeoutMs: number | undefined;
  readonly queue: string;
  readonly maxAttempts: number;
}

/** Marks the objects made by {@link defineCleanupTarget}. */
export const cleanupTargetKind = "docket.cleanup-target";

/**
 * Tells whether a value is a cleanup target, made by this or any other copy of docket (by its
 * brand, not `instanceof`).
 *
 * @example
 * ```ts
 * isCleanupTarget(defineCleanupTarget({ name: "Logs", table: "logs", olderThan: { column: "at", age: "7d" } })); // true
 * ```
 */
export function isCleanupTarget(value: unknown): value is CleanupTarget {
  return hasBrand(value, cleanupTargetBrand) && (value as CleanupTarget).kind === cleanupTargetKind;
}

/** Target names: they become worker names and environment variable names. */
export const targetNameSchema = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_]{0,99}$/,
    "must be letters, digits and _, starting with a letter (at most 100)",
  );

/** A table or column name from configuration: exact, and never able to carry SQL. */
const identifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
    "must be a plain identifier: letters, digits, _ and $ (at most 63)",
  );

const tableSchema = z.string().superRefine((value, ctx) => {
  const parts = value.split(".");
  if (parts.length > 2 || !parts.every((p) => identifier.safeParse(p).success)) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(value)} must be "table" or "schema.table" of plain identifiers`,
    });
  }
});

const strategyKeys = ["maxAge", "keepLatest", "expired", "run"] as const;

/** The longest archive suffix: `_2026_11_22`. */
const longestSuffix = { day: 11, month: 8, year: 5 } satisfies Record<ArchivePeriod, number>;

const targetOptionsSchema = z
  .object({
    name: targetNameSchema,
    description: z.string().max(500).optional(),
    table: tableSchema.optional(),
    maxAge: z.object({ column: identifier, olderThan: durationMs() }).strict().optional(),
    keepLatest: z
      .object({
        count: z.number().int().min(1),
        partitionBy: z.union([
          identifier.transform((c) => [c]),
          z.array(identifier).min(1).max(32),
        ]),
        orderBy: identifier,
      })
      .strict()
      .optional(),
    expired: z.object({ column: identifier }).strict().optional(),
    run: z
      .custom<NonNullable<CleanupTargetOptions["run"]>>(
        (v) => typeof v === "function",
        "must be a function",
      )
      .optional(),
    archive: z
      .union([
        z.boolean(),
        z
          .object({
            prefix: identifier.optional(),
            period: z.enum(["day", "month", "year"]).default("month"),
          })
          .strict(),
      ])
      .optional(),
    batchSize: z.number().int().min(1).max(1_000_000).default(1000),
    schedule: z.union([z.literal(false), cronExpressionSchema]).optional(),
    timezone: timeZoneSchema.default("UTC"),
    timeout: durationMs({ min: 1 }).optional(),
    queue: nameSchema.default("maintenance"),
    maxAttempts: z.number().int().min(1).max(1000).default(3),
  })
  .strict()
  .superRefine((value, ctx) => {
    const given = strategyKeys.filter((key) => value[key] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: "custom",
        path: given.length > 1 ? [given[1] as string] : [],
        message:
          given.length === 0
            ? "give one of maxAge, keepLatest, expired or run"
            : `give only one of maxAge, keepLatest, expired or run (got ${given.join(" and ")})`,
      });
    }
    if (given.length === 1 && given[0] !== "run" && value.table === undefined) {
      ctx.addIssue({ code: "custom", path: ["table"], message: `is required with ${given[0]}` });
    }
    if (value.archive && value.run) {
      ctx.addIssue({
        code: "custom",
        path: ["archive"],
        message: "cannot be used with run: archive rows in run yourself",
      });
    }
  });

/**
 * Defines a cleanup target: a periodic worker that deletes (or archives) old rows of one of the
 * application's tables, in batches that each hold their locks briefly. Register it with the
 * queue's `cleanup` option; run it now with `queue.insert(target, {})` or `docket cleanup <name>`.
 * Tables and columns are checked against the catalog when the queue starts.
 *
 * @example
 * ```ts
 * const logRecords = defineCleanupTarget({
 *   name: "DeploymentLogRecord",
 *   description: "Deployment log entries beyond the newest 500 of each deployment",
 *   table: "deployment_log_record",
 *   keepLatest: { count: 500, partitionBy: "deployment_id", orderBy: "created_at" },
 *   schedule: "0 * * * *",
 *   timeout: "10m",
 * });
 * new Queue({ connection, queues: { default: 10 }, cleanup: [logRecords] });
 * ```
 */
export function defineCleanupTarget(options: CleanupTargetOptions): CleanupTarget {
  const parsed = targetOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const name = typeof options?.name === "string" ? ` "${options.name}"` : "";
    throw zodToConfigError(parsed.error, `cleanup target${name}`, targetOptionsSchema);
  }
  const value = parsed.data;
  const [schemaName, tableName] = value.table?.includes(".")
    ? value.table.split(".")
    : [undefined, value.table];
  const table = tableName === undefined ? undefined : { schema: schemaName, name: tableName };
  let archive: CleanupTarget["archive"];
  if (value.archive && table) {
    const settings = value.archive === true ? { period: "month" as const } : value.archive;
    archive = { prefix: settings.prefix ?? `${table.name}_archive`, period: settings.period };
    if (archive.prefix.length + longestSuffix[archive.period] > 63) {
      const path = `cleanup target "${value.name}".archive`;
      throw new ConfigError(
        `${path}: archive tables "${archive.prefix}_…" would be longer than 63 characters; set archive.prefix`,
        { path },
      );
    }
  }
  return Object.freeze({
    [cleanupTargetBrand]: true,
    kind: cleanupTargetKind,
    name: value.name,
    worker: `cleanup:${value.name}`,
    description: value.description ?? describe(value, table?.name),
    table,
    strategy: strategyOf(value),
    archive,
    batchSize: value.batchSize,
    schedule: value.schedule === false ? undefined : value.schedule,
    timezone: value.timezone,
    timeoutMs: value.timeout,
    queue: value.queue,
    maxAttempts: value.maxAttempts,
  });
}

type ParsedTargetOptions = z.output<typeof targetOptionsSchema>;

function strategyOf(value: ParsedTargetOptions): CleanupStrategy {
  if (value.maxAge)
    return { kind: "maxAge", column: value.maxAge.column, olderThanMs: value.maxAge.olderThan };
  if (value.expired) return { kind: "expired", column: value.expired.column };
  if (value.keepLatest) return { kind: "keepLatest", ...value.keepLatest };
  return { kind: "custom", run: value.run as NonNullable<CleanupTargetOptions["run"]> };
}

function describe(value: ParsedTargetOptions, table: string | undefined): string {
  const verb = value.archive ? "Archives" : "Deletes";
  if (value.maxAge)
    return `${verb} ${table} rows whose ${value.maxAge.column} is older than ${value.maxAge.olderThan / 1000}s`;
  if (value.expired) return `${verb} ${table} rows whose ${value.expired.column} has passed`;
  if (value.keepLatest) {
    const { count, partitionBy, orderBy } = value.keepLatest;
    return `${verb} ${table} rows beyond the newest ${count} by ${orderBy} per ${partitionBy.join(", ")}`;
  }
  return `Custom cleanup ${value.name}`;
}
