import { z } from "zod";

const units: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const durationPattern = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/**
 * A span of time as users write it: seconds as a number (`30`, `0.5`) or a string with a unit
 * (`"500ms"`, `"30s"`, `"10m"`, `"24h"`, `"7d"`).
 */
export type Duration = number | string;

/**
 * Parses a {@link Duration} into milliseconds. Returns `undefined` for anything that is not
 * one, so callers can name the option in their own error.
 *
 * @example
 * ```ts
 * parseDuration("10m") // 600000
 * parseDuration(1.5)   // 1500
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const match = durationPattern.exec(trimmed);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (units[match[2] as string] as number));
}

/** A zod schema that accepts a {@link Duration} and yields milliseconds. */
export function durationMs(options: { min?: number } = {}) {
  const min = options.min ?? 0;
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `expected a duration: seconds as a number or a string such as "500ms", "30s", "10m", "24h", "7d"; got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: "custom", message: `must be at least ${min}ms, got ${ms}ms` });
      return z.NEVER;
    }
    return ms;
  });
}
