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

/** Seconds to wait before the next attempt of a job that failed, using its worker's override. */
export function backoffSeconds(job: Job, override: ((job: Job) => number) | undefined): number {
  if (override) {
    const seconds = override(job);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  }
  return defaultBackoff(job.attempt);
}
