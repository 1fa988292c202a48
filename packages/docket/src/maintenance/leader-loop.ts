import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";
import type { PluginContext } from "./plugin.js";

/** What a {@link LeaderLoop} runs and how often. */
export interface LeaderLoopOptions<R> {
  /** Names the loop in `queue:error` events (`source`). */
  name: string;
  intervalMs: number;
  run: () => Promise<R>;
  /** Called with each run's result. */
  onResult?: (result: R, durationMs: number) => void;
  /**
   * How long to wait after a run that returned `result`, for loops whose next run depends on it
   * (cron sleeps until its next slot). Without it, and after a failed run, `intervalMs`.
   */
  nextDelayMs?: (result: R) => number;
}

/**
 * Runs a task periodically, on the leader only: at once when this node becomes leader, then
 * every `intervalMs` after each run ends, and no more once leadership is lost or the loop is
 * stopped. A run that fails is reported as a `queue:error` and the loop carries on.
 *
 * @example
 * ```ts
 * const loop = new LeaderLoop(context, { name: "report", intervalMs: 60_000, run: report });
 * await loop.stop();
 * ```
 */
export class LeaderLoop<R = unknown> {
  readonly #context: PluginContext;
  readonly #options: LeaderLoopOptions<R>;
  readonly #unsubscribe: () => void;
  #timer: LongTimer | undefined;
  #running: Promise<void> | undefined;
  #active = false;
  #stopped = false;

  constructor(context: PluginContext, options: LeaderLoopOptions<R>) {
    this.#context = context;
    this.#options = options;
    this.#unsubscribe = context.onLeadershipChange((leader) => this.#follow(leader));
    this.#follow(context.isLeader());
  }

  /** Stops the loop and waits for a run in progress to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    this.#follow(false);
    await this.#running;
  }

  #follow(leader: boolean): void {
    const active = leader && !this.#stopped;
    if (active === this.#active) return;
    this.#active = active;
    this.#timer?.clear();
    this.#timer = undefined;
    if (active && !this.#running) this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    this.#timer = setLongTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#tick().then((nextDelayMs) => {
        this.#running = undefined;
        if (this.#active && !this.#timer) this.#schedule(nextDelayMs);
      });
    }, delayMs);
  }

  /** One run; never rejects. Returns how long to wait before the next. */
  async #tick(): Promise<number> {
    const { run, onResult, nextDelayMs, intervalMs, name } = this.#options;
    const startedAt = performance.now();
    try {
      const result = await run();
      const durationMs = performance.now() - startedAt;
      onResult?.(result, durationMs);
      this.#context.emit("maintenance:run", { task: name, outcome: "ok", durationMs });
      return nextDelayMs ? nextDelayMs(result) : intervalMs;
    } catch (error) {
      this.#context.logger.error(`docket ${name} error`, { error });
      this.#context.emit("queue:error", { error, source: name });
      const durationMs = performance.now() - startedAt;
      this.#context.emit("maintenance:run", { task: name, outcome: "error", durationMs });
      return intervalMs;
    }
  }
}
