import type { ParsedFlowOptions, PartitionBy } from "./flow-options.js";

function byText(by: PartitionBy): string {
  return [...(by.worker ? ["worker"] : []), ...(by.args ?? []).map((a) => `args.${a}`)].join("+");
}

function periodText(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A queue's flow limits in one short line, as `docket status` prints them ("-" for none).
 *
 * @example
 * ```ts
 * describeLimits({ globalLimit: 3, rateLimit: { allowed: 100, period: 60_000 } });
 * // "global 3, rate 100/1m"
 * ```
 */
export function describeLimits(limits: ParsedFlowOptions | null): string {
  if (!limits) return "-";
  const parts: string[] = [];
  if (limits.globalLimit !== undefined) parts.push(`global ${limits.globalLimit}`);
  if (limits.rateLimit) {
    const per = limits.rateLimit.partition ? ` per ${byText(limits.rateLimit.partition.by)}` : "";
    parts.push(`rate ${limits.rateLimit.allowed}/${periodText(limits.rateLimit.period)}${per}`);
  }
  if (limits.partition) parts.push(`${limits.partition.limit} per ${byText(limits.partition.by)}`);
  return parts.length === 0 ? "-" : parts.join(", ");
}
