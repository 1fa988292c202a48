import { z } from "zod";
import { cronExpressionSchema, timeZoneSchema } from "../cron/cron-options.js";
import { durationMs } from "../validation/duration.js";
import { type CleanupTarget, isCleanupTarget, targetNameSchema } from "./define-target.js";

const targetSchema = z.custom<CleanupTarget>(
  isCleanupTarget,
  "must be a cleanup target made by defineCleanupTarget()",
);

/**
 * The settings of one cleanup target, by its name: `[cleanup.<Name>]` in docket.toml,
 * `CLEANUP_<NAME>_CRON` / `_TIMEOUT` in the environment, or in code. They override what the
 * target's definition says.
 */
export const cleanupSettingsSchema = z
  .object({
    /** Cron expression of the target's runs; `false` unschedules a target scheduled in code. */
    schedule: z.union([z.literal(false), cronExpressionSchema]).optional(),
    /** The time zone of `schedule`. */
    timezone: timeZoneSchema.optional(),
    /** A run stops between batches after this long and reports how far it got. */
    timeout: durationMs({ min: 1 }).optional(),
    /** Rows per statement. */
    batchSize: z.number().int().min(1).max(1_000_000).optional(),
    /** The target itself (code only): `cleanup: [target]` is short for `{ [target.name]: { target } }`. */
    target: targetSchema.optional(),
  })
  .strict();

/** Settings of one target as written. */
export type CleanupSettings = z.input<typeof cleanupSettingsSchema>;

/** Settings of one target after parsing (durations in milliseconds). */
export type ParsedCleanupSettings = z.output<typeof cleanupSettingsSchema>;

/** The `cleanup` option as written: a list of targets, or settings (and targets) by name. */
export type CleanupOption = readonly CleanupTarget[] | Record<string, CleanupSettings>;

/**
 * `cleanup` in the queue's options: the application's cleanup targets, as a list
 * (`cleanup: [logRecords]`), or settings by target name (`cleanup: { Jobs: { schedule: "@daily" } }`,
 * what docket.toml and the environment give), whose `target` key may carry the target. Both come
 * out as settings by name.
 */
export const cleanupOptionSchema = z
  .union([
    z.array(targetSchema).superRefine((targets, ctx) => {
      const seen = new Set<string>();
      for (const [index, target] of targets.entries()) {
        if (seen.has(target.name)) {
          ctx.addIssue({
            code: "custom",
            path: [index],
            message: `two cleanup targets are named ${target.name}`,
          });
        }
        seen.add(target.name);
      }
    }),
    z.record(targetNameSchema, cleanupSettingsSchema).superRefine((settings, ctx) => {
      for (const [name, entry] of Object.entries(settings)) {
        if (entry.target && entry.target.name !== name) {
          ctx.addIssue({
            code: "custom",
            path: [name, "target"],
            message: `is the target ${entry.target.name}, not ${name}`,
          });
        }
      }
    }),
  ])
  .transform(
    (value): Record<string, ParsedCleanupSettings> =>
      Array.isArray(value) ? toRecord(value) : value,
  )
  .default({});

function toRecord(targets: readonly CleanupTarget[]): Record<string, ParsedCleanupSettings> {
  return Object.fromEntries(targets.map((target) => [target.name, { target }]));
}

/**
 * Adds targets to a `cleanup` option (a list, or settings by name), keeping the settings it
 * has: for the `docket` command, which finds targets in modules and settings in docket.toml.
 *
 * @example
 * ```ts
 * const cleanup = withCleanupTargets(config.options.cleanup, [logRecords]);
 * ```
 */
export function withCleanupTargets(
  option: unknown,
  targets: readonly CleanupTarget[],
): Record<string, CleanupSettings> {
  const out: Record<string, CleanupSettings> = {};
  if (Array.isArray(option)) {
    for (const target of option) if (isCleanupTarget(target)) out[target.name] = { target };
  } else if (typeof option === "object" && option !== null) {
    Object.assign(out, option);
  }
  for (const target of targets) out[target.name] = { ...out[target.name], target };
  return out;
}
