import { createHash } from "node:crypto";
import { z } from "zod";
import { InsertError } from "../errors.js";
import type { InsertRow } from "../sql/jobs.js";
import {
  type ReplaceableField,
  replaceableFields,
  type UniqueColumns,
} from "../sql/unique-jobs.js";
import { type JobState, jobStates } from "../types.js";
import { type Duration, durationMs } from "../validation/duration.js";

/** The parts of a job that can make it distinct from another. */
export const uniqueFields = ["worker", "queue", "args", "meta"] as const;

/** A part of a job that makes it distinct: `worker`, `queue`, `args` or `meta`. */
export type UniqueField = (typeof uniqueFields)[number];

/**
 * States a unique job must block in. Moves between them happen inside docket (fetch, retry,
 * snooze, staging), where a duplicate appearing half-way would make the move fail.
 */
const requiredStates: readonly JobState[] = ["available", "scheduled", "executing", "retryable"];

/** The default states: every state but `cancelled` and `discarded`. */
export const defaultUniqueStates: readonly JobState[] = jobStates.filter(
  (s) => s !== "cancelled" && s !== "discarded",
);

/**
 * Uniqueness of jobs (see docs/unique-jobs.md): a job is not inserted while another job with
 * the same key is in one of `states`; the insert returns that job with `conflict: true`.
 *
 * @example
 * ```ts
 * defineWorker({ name: "digest", unique: { period: "1h", keys: ["userId"] }, perform });
 * await queue.insert(digest, { userId: 7 }, { unique: { replace: ["scheduledAt"] } });
 * ```
 */
export interface UniqueOptions {
  /**
   * Time buckets in which a job blocks its duplicates, counted from the Unix epoch on the
   * database's clock ("1h": one job per clock hour). Omit or `null`: no time limit.
   */
  period?: Duration | null;
  /** Only these top-level keys of `args` (and of `meta`, when it is a field) count. Default: all. */
  keys?: string[];
  /** The fields that make a job distinct. Default `["worker", "queue", "args"]`. */
  fields?: UniqueField[];
  /**
   * The states in which a job blocks its duplicates. Default: all but `cancelled` and
   * `discarded`. Must include `available`, `scheduled`, `executing` and `retryable`.
   */
  states?: JobState[];
  /**
   * Fields of the existing job to overwrite with the conflicting insert's values, while that
   * job has not started (`available`, `scheduled` or `retryable`). Default: none.
   */
  replace?: ReplaceableField[];
}

/** Unique options with defaults filled in and the period in milliseconds. */
export interface ResolvedUniqueOptions {
  periodMs: number | null;
  keys: readonly string[] | null;
  fields: readonly UniqueField[];
  states: readonly JobState[];
  replace: readonly ReplaceableField[];
}

const statesSchema = z
  .array(z.enum(jobStates))
  .refine((states) => requiredStates.every((s) => states.includes(s)), {
    message: `must include ${requiredStates.join(", ")} (a job moves between these inside docket)`,
  });

/** The unique options of one insert: any subset, laid over the worker's. */
export const uniqueOverrideSchema = z
  .object({
    period: z.union([durationMs({ min: 1 }), z.null()]).optional(),
    keys: z.array(z.string().min(1)).min(1).optional(),
    fields: z.array(z.enum(uniqueFields)).min(1).optional(),
    states: statesSchema.optional(),
    replace: z.array(z.enum(replaceableFields)).optional(),
  })
  .strict();

type UniqueOverride = z.output<typeof uniqueOverrideSchema>;

/** Fills in defaults; returns a problem to report instead when the options contradict. */
function resolve(options: UniqueOverride): ResolvedUniqueOptions | string {
  const fields: UniqueField[] = [
    ...new Set(options.fields ?? (["worker", "queue", "args"] as const)),
  ];
  if (options.keys && !fields.includes("args") && !fields.includes("meta")) {
    return "keys: select keys of args or meta, so fields must include args or meta";
  }
  return Object.freeze({
    periodMs: options.period ?? null,
    keys: options.keys ? Object.freeze([...new Set(options.keys)]) : null,
    fields: Object.freeze(fields),
    states: Object.freeze([...new Set(options.states ?? defaultUniqueStates)]),
    replace: Object.freeze([...new Set(options.replace ?? [])]),
  });
}

/** The `unique` option of `defineWorker`, resolved at definition. */
export const uniqueOptionsSchema = uniqueOverrideSchema.transform((options, ctx) => {
  const resolved = resolve(options);
  if (typeof resolved === "string") {
    ctx.addIssue({ code: "custom", message: resolved });
    return z.NEVER;
  }
  return resolved;
});

/**
 * The unique options of one insert: the worker's, with those given at insert laid over them;
 * `false` turns uniqueness off for the insert. Undefined when the insert is not unique.
 */
export function resolveUnique(
  base: ResolvedUniqueOptions | undefined,
  override: UniqueOverride | false | undefined,
): ResolvedUniqueOptions | undefined {
  if (override === false) return undefined;
  if (override === undefined) return base;
  const merged: UniqueOverride = base
    ? {
        period: base.periodMs,
        fields: [...base.fields],
        states: [...base.states],
        replace: [...base.replace],
        ...(base.keys ? { keys: [...base.keys] } : {}),
      }
    : {};
  for (const [key, value] of Object.entries(override)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  const resolved = resolve(merged);
  if (typeof resolved === "string") throw new InsertError(`insert option unique.${resolved}`);
  return resolved;
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort())
      sorted[key] = (item as Record<string, unknown>)[key];
    return sorted;
  });
}

function pick(object: Record<string, unknown>, keys: readonly string[] | null): unknown {
  if (!keys) return object;
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (object[key] !== undefined) picked[key] = object[key];
  return picked;
}

/** The state set as the `bit(8)` text the `unique_states` column takes. */
export function statesBitmask(states: readonly JobState[]): string {
  let bits = "";
  for (let i = 0; i < 8; i++) bits += states.includes(jobStates[i] as JobState) ? "1" : "0";
  return bits;
}

/**
 * Computes what the unique key of a row is made of. The time bucket is left to the database,
 * so that the clocks of application servers do not matter.
 */
export function uniqueColumns(row: InsertRow, unique: ResolvedUniqueOptions): UniqueColumns {
  const parts: Record<string, unknown> = { period: unique.periodMs };
  for (const field of unique.fields) {
    if (field === "worker") parts.worker = row.worker;
    else if (field === "queue") parts.queue = row.queue;
    else if (field === "args") parts.args = pick(row.args as Record<string, unknown>, unique.keys);
    else parts.meta = pick(row.meta, unique.keys);
  }
  return {
    unique_base: createHash("sha256").update(canonicalJson(parts)).digest("hex"),
    unique_period_ms: unique.periodMs,
    unique_states: statesBitmask(unique.states),
  };
}
