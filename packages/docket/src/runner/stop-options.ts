import { z } from "zod";
import { type Duration, durationMs } from "../validation/duration.js";
import { zodToConfigError } from "../validation/zod-errors.js";

/** Options of {@link Queue.stop}. */
export interface StopOptions {
  /** How long running jobs may take to finish before their signals abort. Default 15s. */
  grace?: Duration;
}

/** The schema of {@link StopOptions}; the default grace is the queue's `shutdownGrace`. */
const stopOptionsSchema = z.object({ grace: durationMs().optional() }).strict();

/**
 * The grace of a `stop()` call in milliseconds: `options.grace`, else `defaultGraceMs`.
 *
 * @example
 * ```ts
 * parseStopOptions({ grace: "5s" }, 15_000); // 5000
 * ```
 * @throws ConfigError naming `grace` (or the unknown key).
 */
export function parseStopOptions(options: StopOptions, defaultGraceMs: number): number {
  const parsed = stopOptionsSchema.safeParse(options);
  if (!parsed.success) throw zodToConfigError(parsed.error, "", stopOptionsSchema, "stop");
  return parsed.data.grace ?? defaultGraceMs;
}
