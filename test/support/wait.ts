import type { QueueEventEmitter, QueueEvents } from "../../packages/docket/src/index.js";

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, or fails after
 * `timeoutMs` with the last value seen. For conditions that live in the database.
 *
 * @example
 * ```ts
 * const job = await waitFor(async () => {
 *   const j = await queue.getJob(id);
 *   return j?.state === "completed" && j;
 * });
 * ```
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15_000, intervalMs = 25, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    last = value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what} (last: ${String(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the arguments of the first `event` emitted that satisfies `match`. */
export function nextEvent<K extends keyof QueueEvents>(
  emitter: QueueEventEmitter,
  event: K,
  match?: (...args: QueueEvents[K]) => boolean,
  timeoutMs?: number,
): Promise<QueueEvents[K]>;
export function nextEvent<A extends unknown[]>(
  emitter: {
    on(event: string, fn: (...args: A) => void): unknown;
    off(event: string, fn: (...args: A) => void): unknown;
  },
  event: string,
  match?: (...args: A) => boolean,
  timeoutMs?: number,
): Promise<A>;
export function nextEvent<A extends unknown[]>(
  emitter: {
    on(event: string, fn: (...args: A) => void): unknown;
    off(event: string, fn: (...args: A) => void): unknown;
  },
  event: string,
  match: (...args: A) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs}ms waiting for event ${event}`));
    }, timeoutMs);
    const listener = (...args: A) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}
