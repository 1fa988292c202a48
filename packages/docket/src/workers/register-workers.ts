import { ConfigError } from "../errors.js";
import type { AnyWorker } from "./define-worker.js";

/**
 * The workers a queue runs, by name: the application's, then its cleanup targets' workers.
 *
 * @example
 * ```ts
 * const workers = registerWorkers([sendEmail], []);
 * workers.get("email.send"); // sendEmail
 * ```
 * @throws ConfigError (path `workers`) when two share a name.
 */
export function registerWorkers(
  workers: readonly AnyWorker[],
  cleanupWorkers: readonly AnyWorker[],
): ReadonlyMap<string, AnyWorker> {
  const byName = new Map<string, AnyWorker>();
  for (const worker of workers) {
    if (byName.has(worker.name)) {
      throw new ConfigError(`workers: two workers are named "${worker.name}"`, {
        path: "workers",
      });
    }
    byName.set(worker.name, worker);
  }
  for (const worker of cleanupWorkers) {
    if (byName.has(worker.name)) {
      throw new ConfigError(`workers: "${worker.name}" is the name of a cleanup target's worker`, {
        path: "workers",
      });
    }
    byName.set(worker.name, worker);
  }
  return byName;
}
