import { z } from "zod";
import { adaptTransaction, type Transaction } from "../db/transaction-adapters.js";
import { ArgsError, InsertError } from "../errors.js";
import type { Executor } from "../sql/executor.js";
import type { InsertRow } from "../sql/jobs.js";
import { type ArgsResult, describeIssues, validateArgs } from "../validation/args-schema.js";
import { type Duration, durationMs } from "../validation/duration.js";
import { findNonJson, findUnstorableText } from "../validation/json.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { type AnyWorker, nameSchema } from "../workers/define-worker.js";
import { type UniqueOptions, uniqueOverrideSchema } from "./unique-options.js";

/** Options of one insert; they override the worker's defaults. */
export interface InsertOptions {
  queue?: string;
  /** Run no earlier than this long from now. */
  scheduleIn?: Duration;
  /** Run no earlier than this time. */
  scheduledAt?: Date;
  priority?: number;
  maxAttempts?: number;
  tags?: string[];
  meta?: Record<string, unknown>;
  /**
   * Insert inside this transaction, on its own connection: postgres.js, Kysely, node-postgres,
   * Drizzle, Knex, Prisma, TypeORM, or `{ query(text, values) }` (see docs/clients.md).
   */
  tx?: Transaction;
  /** Laid over the worker's unique options; `false` inserts without uniqueness. */
  unique?: UniqueOptions | false;
  /**
   * Jobs (ids or jobs) this job waits for: it runs once all of them have finished (see
   * docs/workflows.md). At most 1,000.
   */
  dependsOn?: readonly (string | number | bigint | { id: string })[];
  /** When a dependency is cancelled or discarded: cancel this job (default) or run it anyway. */
  onDependencyFailure?: "cancel" | "run";
}

/**
 * The largest `meta` one insert may give, in bytes of JSON (64 KiB). meta is read with every
 * job; large data belongs in args (bounded by `maxArgsBytes`) or in tables of your own.
 */
export const maxMetaBytes = 64 * 1024;

/** A string PostgreSQL can store: no NUL, no lone surrogate. */
const storableText = z.string().superRefine((value, ctx) => {
  const problem = findUnstorableText(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const insertOptionsSchema = z
  .object({
    queue: nameSchema.optional(),
    scheduleIn: durationMs().optional(),
    scheduledAt: z
      .date()
      .refine((d) => !Number.isNaN(d.getTime()), "must be a valid Date")
      .refine(
        (d) => Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 9999,
        "must be before the year 10000 (PostgreSQL's timestamptz ends there)",
      )
      .optional(),
    priority: z.number().int().min(0).max(9).optional(),
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    tags: z.array(storableText.min(1).max(255)).max(100).optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
    tx: z
      .unknown()
      .transform((value, ctx): Executor => {
        const adapted = adaptTransaction(value);
        if ("executor" in adapted) return adapted.executor;
        ctx.addIssue({ code: "custom", message: adapted.problem });
        return z.NEVER;
      })
      .optional(),
    unique: z.union([z.literal(false), uniqueOverrideSchema]).optional(),
    dependsOn: z
      .array(
        z
          .union([z.string(), z.number(), z.bigint(), z.object({ id: z.string() }).loose()])
          .transform((d) => String(typeof d === "object" ? d.id : d))
          .refine((d) => /^[1-9][0-9]{0,18}$/.test(d), "must be a job id"),
      )
      .max(1000)
      .optional(),
    onDependencyFailure: z.enum(["cancel", "run"]).optional(),
  })
  .strict()
  .refine((o) => o.scheduleIn === undefined || o.scheduledAt === undefined, {
    message: "give scheduleIn or scheduledAt, not both",
    path: ["scheduleIn"],
  });

/** Parsed insert options, shared by every row of one call. */
export type ParsedInsertOptions = z.output<typeof insertOptionsSchema>;

/** Checks the options of one insert call. */
export function parseInsertOptions(options: InsertOptions | undefined): ParsedInsertOptions {
  const parsed = insertOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const error = zodToConfigError(parsed.error, "insert option", insertOptionsSchema);
    throw new InsertError(error.message, { cause: parsed.error });
  }
  const meta = parsed.data.meta;
  const problem = meta === undefined ? undefined : findNonJson(meta, "meta", { text: true });
  if (problem) throw new InsertError(`insert option ${problem}`);
  if (meta !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(meta));
    if (bytes > maxMetaBytes) {
      throw new InsertError(
        `insert option meta is ${bytes} bytes as JSON, over the limit of ${maxMetaBytes}; keep large data in args or your own tables`,
      );
    }
  }
  return parsed.data;
}

/** The fields every job of one insert call shares: all but the args. */
export type SharedInsertFields = Omit<InsertRow, "args">;

/** The worker's defaults overridden by the call's options. */
export function sharedInsertFields(
  worker: AnyWorker | { name: string; queue?: string },
  options: ParsedInsertOptions,
): SharedInsertFields {
  const defaults = worker as Partial<AnyWorker>;
  return {
    queue: options.queue ?? defaults.queue ?? "default",
    worker: worker.name,
    meta: options.meta ?? {},
    tags: options.tags ?? [...(defaults.tags ?? [])],
    priority: options.priority ?? defaults.priority ?? 0,
    max_attempts: options.maxAttempts ?? defaults.maxAttempts ?? 20,
    scheduled_at: options.scheduledAt ? options.scheduledAt.toISOString() : null,
    schedule_in_ms: options.scheduleIn ?? null,
  };
}

/**
 * Validates one job's args for a worker (a plain JSON object that fits the worker's schema and
 * `maxArgsBytes`) and returns them as JSON text, the form in which they are stored. With a
 * schema, what is stored is what the schema returns: defaults filled in, extra keys kept or
 * dropped as the schema says. An async schema makes the answer a promise.
 */
export function checkArgs(
  worker: AnyWorker | { name: string },
  args: unknown,
  maxArgsBytes: number,
): string | Promise<string> {
  const name = worker.name;
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new ArgsError(
      name,
      `args for worker "${name}" must be a plain object, got ${Array.isArray(args) ? "an array" : typeof args}`,
    );
  }
  const schema = "args" in worker ? worker.args : undefined;
  if (!schema) return storableArgs(name, args, maxArgsBytes);
  const result = validateArgs(schema, args);
  if (result instanceof Promise) {
    return result.then((settled) => validatedArgs(name, settled, maxArgsBytes));
  }
  return validatedArgs(name, result, maxArgsBytes);
}

function validatedArgs(name: string, result: ArgsResult, maxArgsBytes: number): string {
  if (result.issues) {
    throw new ArgsError(
      name,
      `args for worker "${name}" are invalid: ${describeIssues(result.issues)}`,
      {
        cause: result.issues,
      },
    );
  }
  const value = result.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ArgsError(
      name,
      `args for worker "${name}": its schema returned ${Array.isArray(value) ? "an array" : typeof value}, not a plain object`,
    );
  }
  return storableArgs(name, value, maxArgsBytes);
}

/** The args as JSON text, once they are known to be JSON and within `maxArgsBytes`. */
function storableArgs(name: string, args: object, maxArgsBytes: number): string {
  const problem = findNonJson(args, "args", { text: true });
  if (problem)
    throw new ArgsError(name, `args for worker "${name}" cannot be stored as JSON: ${problem}`);
  const json = JSON.stringify(args);
  // Characters count at most 3 bytes each in UTF-8: only long texts need counting.
  const bytes = json.length * 3 <= maxArgsBytes ? json.length : Buffer.byteLength(json);
  if (bytes > maxArgsBytes) {
    throw new ArgsError(
      name,
      `args for worker "${name}" are ${bytes} bytes, over the limit of ${maxArgsBytes} (option maxArgsBytes)`,
    );
  }
  return json;
}

/** Validates one job's args for a worker and builds the row to insert. */
export async function buildInsertRow(
  worker: AnyWorker | { name: string; queue?: string },
  args: unknown,
  options: ParsedInsertOptions,
  maxArgsBytes: number,
): Promise<InsertRow> {
  const json = await checkArgs(worker, args, maxArgsBytes);
  return { ...sharedInsertFields(worker, options), args: JSON.parse(json) as unknown };
}
