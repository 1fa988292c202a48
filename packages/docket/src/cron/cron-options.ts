import { z } from "zod";
import { ConfigError } from "../errors.js";
import { checkArgs } from "../insert/insert-options.js";
import { findNonJson } from "../validation/json.js";
import { closest } from "../validation/zod-errors.js";
import { type AnyWorker, nameSchema } from "../workers/define-worker.js";
import { isTimeZone, normalizeCronExpression } from "./cron-expression.js";

/** A cron expression: five fields, six with seconds first, or a nickname such as `@hourly`. */
export const cronExpressionSchema = z.string().superRefine((value, ctx) => {
  const normalized = normalizeCronExpression(value);
  if ("problem" in normalized) ctx.addIssue({ code: "custom", message: normalized.problem });
});

/** An IANA time zone name such as `Europe/Berlin`, or `UTC`. */
export const timeZoneSchema = z.string().superRefine((value, ctx) => {
  if (!isTimeZone(value)) {
    ctx.addIssue({
      code: "custom",
      message: `unknown time zone ${JSON.stringify(value)}; use an IANA name such as "Europe/Berlin" or "UTC"`,
    });
  }
});

/**
 * What happens to slots that came due while no node led (the cluster was down): `"latest"`
 * inserts the most recent of them only (the default), `"all"` inserts every one of them (at
 * most 1,000, the most recent).
 */
export const catchUpModes = ["latest", "all"] as const;

/** One entry of the `cron` option. */
export const cronEntrySchema = z
  .object({
    /** When: `"0 * * * *"`, `"*\/5 * * * *"`, `"@daily"`; a leading sixth field counts seconds. */
    expression: cronExpressionSchema,
    /** The worker whose job is inserted at each slot; must be one of the node's workers. */
    worker: nameSchema,
    /** The job's args, checked against the worker's schema at construction. */
    args: z
      .record(z.string(), z.unknown())
      .superRefine((args, ctx) => {
        const problem = findNonJson(args, "args", { text: true });
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .default({}),
    /** The time zone the expression is read in. Default `UTC`. */
    timezone: timeZoneSchema.default("UTC"),
    /**
     * Identifies the entry across nodes and restarts (its slots are kept under this name).
     * Default: worker, expression, time zone and args together.
     */
    name: z.string().min(1).max(255).optional(),
    /** Overrides the worker's queue. */
    queue: nameSchema.optional(),
    /** Overrides the worker's priority, 0 (first) to 9. */
    priority: z.number().int().min(0).max(9).optional(),
    /** Overrides the worker's attempts. */
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    /** Overrides the worker's tags. */
    tags: z.array(z.string().min(1).max(255)).max(100).optional(),
    /** Merged into each job's `meta` (beside `meta.cron`, which docket sets). */
    meta: z.record(z.string(), z.unknown()).optional(),
    /** Slots missed while no node led: `"latest"` (default) or `"all"`. */
    catchUp: z.enum(catchUpModes).default("latest"),
  })
  .strict();

/** One `cron` entry as users write it. */
export type CronEntryOptions = z.input<typeof cronEntrySchema>;

/** One `cron` entry after parsing, its name filled in. */
export type ParsedCronEntry = z.output<typeof cronEntrySchema> & { name: string };

/** The `cron` option of `new Queue()`: entries, each inserting a job at its slots. */
export const cronOptionSchema = z.array(cronEntrySchema).default([]);

/** JSON with object keys sorted, so that equal args give equal names. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    return Object.fromEntries(
      Object.keys(item)
        .sort()
        .map((k) => [k, (item as Record<string, unknown>)[k]]),
    );
  });
}

/**
 * The name an entry is known by: its own `name`, or one made of what makes it distinct, so that
 * every node with the same configuration agrees on it without being told.
 */
export function cronEntryName(entry: z.output<typeof cronEntrySchema>): string {
  if (entry.name !== undefined) return entry.name;
  const args = Object.keys(entry.args).length > 0 ? ` ${canonicalJson(entry.args)}` : "";
  const zone = entry.timezone === "UTC" ? "" : ` ${entry.timezone}`;
  return `${entry.worker} ${entry.expression.trim()}${zone}${args}`.slice(0, 255);
}

/**
 * Names each entry and checks it against the node's workers: the worker must be known and the
 * args must pass its schema. `extra` entries (those of scheduled cleanup targets) come after.
 *
 * @throws ConfigError naming the entry, as `cron[0].worker`.
 */
export function resolveCronEntries(
  entries: readonly z.output<typeof cronEntrySchema>[],
  workers: ReadonlyMap<string, AnyWorker>,
  extra: readonly ParsedCronEntry[],
  maxArgsBytes: number,
): ParsedCronEntry[] {
  const resolved: ParsedCronEntry[] = [];
  const names = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const path = `cron[${index}]`;
    const worker = workers.get(entry.worker);
    if (!worker) {
      const hint = closest(entry.worker, [...workers.keys()]);
      throw new ConfigError(
        `${path}.worker: unknown worker "${entry.worker}"${hint ? ` (did you mean "${hint}"?)` : ""}; a cron entry's worker must be in workers`,
        { path: `${path}.worker` },
      );
    }
    try {
      // An async schema answers later; such entries' args are checked when they insert.
      const checked = checkArgs(worker, entry.args, maxArgsBytes);
      if (typeof checked !== "string") checked.catch(() => {});
    } catch (error) {
      throw new ConfigError(`${path}.args: ${(error as Error).message}`, {
        path: `${path}.args`,
        cause: error,
      });
    }
    const name = cronEntryName(entry);
    const other = names.get(name);
    if (other !== undefined) {
      throw new ConfigError(
        `${path}: entry named "${name}" twice (also cron[${other}]); give one of them a name`,
        { path: `${path}.name` },
      );
    }
    names.set(name, index);
    resolved.push({ ...entry, name });
  }
  for (const entry of extra) {
    if (names.has(entry.name)) {
      throw new ConfigError(
        `cron: an entry is named "${entry.name}", the name of a cleanup target's schedule`,
        {
          path: "cron",
        },
      );
    }
    resolved.push(entry);
  }
  return resolved;
}
