import type { Job } from "../types.js";

/**
 * Oban's default backoff: 15 + 2^attempt seconds, plus up to 10% jitter, so retries of many
 * jobs that failed together spread out instead of arriving at once.
 *
 * @example
 * ```ts
 * defaultBackoff(1) // 17 to 18.7 seconds
 * ```
 */
export function defaultBackoff(attempt: number, random: () => number = Math.random): number {
  const base = 15 + 2 ** Math.min(attempt, 20);
  return base + base * 0.1 * random();
}

/**
 * Seconds to wait before the next attempt of a job that failed, using its worker's override.
 * An override that throws, or returns no usable number, gives the default backoff; `note` then
 * says why, to be stored with the attempt's error.
 */
export function backoffSeconds(
  job: Job,
  override: ((job: Job) => number) | undefined,
): { seconds: number; note?: string } {
  if (override) {
    let seconds: unknown;
    try {
      seconds = override(job);
    } catch (error) {
      return {
        seconds: defaultBackoff(job.attempt),
        note: `backoff() threw ${describe(error)}; the default backoff was used`,
      };
    }
    if (typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0) return { seconds };
  }
  return { seconds: defaultBackoff(job.attempt) };
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "a value that could not be described";
  }
}
