import type { Sql } from "postgres";
import { QueueStateError } from "../errors.js";
import type { QueueEvents } from "../events.js";
import type { Logger } from "../logger.js";

/**
 * What a started node hands to each of its plugins: the database, where docket's tables are,
 * who this node is, and whether it leads.
 */
export interface PluginContext {
  /** docket's postgres.js client; run docket's SQL with it or write tagged templates. */
  readonly executor: Sql;
  /** The schema holding docket's tables. */
  readonly schema: string;
  /** This node's name, as stored in `attempted_by` and `producers.node`. */
  readonly node: string;
  /** The queue's logger (quiet unless one was given). */
  readonly logger: Logger;
  /**
   * How long a producer may go without a heartbeat before it counts as gone, as configured by
   * `heartbeat.timeout` (milliseconds).
   */
  readonly heartbeatTimeoutMs: number;
  /** Emits one of the queue's typed events, e.g. `queue:error` for trouble outside a job. */
  emit<K extends keyof QueueEvents>(event: K, ...args: QueueEvents[K]): void;
  /** Whether this node holds the leadership now. */
  isLeader(): boolean;
  /**
   * Calls `listener` whenever this node gains or loses the leadership (not for the state at the
   * time of the call: read `isLeader()` for that). Returns a function that unsubscribes.
   */
  onLeadershipChange(listener: (isLeader: boolean) => void): () => void;
}

/**
 * Something that runs beside a started node: the built-in pruner and lifeline are plugins, and
 * users add their own through `plugins: [...]`. `start` is called once the node is started,
 * `stop` when it stops (as its leadership is given up); both may be async. Work that must
 * run on one node only should check `context.isLeader()` or follow `onLeadershipChange`; see
 * {@link LeaderLoop} for a ready-made periodic loop.
 *
 * @example
 * ```ts
 * class VacuumJobs implements Plugin {
 *   readonly name = "vacuum-jobs";
 *   #loop: LeaderLoop | undefined;
 *   start(context: PluginContext) {
 *     this.#loop = new LeaderLoop(context, {
 *       name: this.name,
 *       intervalMs: 3_600_000,
 *       run: () => context.executor`VACUUM ${context.executor(context.schema)}.jobs`,
 *     });
 *   }
 *   stop() {
 *     return this.#loop?.stop();
 *   }
 * }
 * new Queue({ connection, plugins: [new VacuumJobs()] });
 * ```
 */
export interface Plugin {
  /** A unique name among the node's plugins; `pruner` and `lifeline` are the built-ins'. */
  readonly name: string;
  start(context: PluginContext): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** The part of a {@link PluginContext} that a maintenance service's `runOnce()` needs. */
export interface MaintenanceTarget {
  /** A postgres.js client on the database. */
  readonly executor: Sql;
  /** The schema holding docket's tables. */
  readonly schema: string;
  /** See {@link PluginContext.heartbeatTimeoutMs}; defaults to 30 seconds. */
  readonly heartbeatTimeoutMs?: number;
}

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
  #timer: NodeJS.Timeout | undefined;
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
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (active && !this.#running) this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
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
      onResult?.(result, performance.now() - startedAt);
      return nextDelayMs ? nextDelayMs(result) : intervalMs;
    } catch (error) {
      this.#context.logger.error(`docket ${name} error`, { error });
      this.#context.emit("queue:error", { error, source: name });
      return intervalMs;
    }
  }
}

/**
 * A maintenance service that runs its `runOnce()` on the leader through a {@link LeaderLoop}:
 * the shape of the pruner, the lifeline and cron. A subclass says how often, and what each
 * result is reported as; `runOnce()` can also be called by hand with a target.
 */
export abstract class LeaderService<R> implements Plugin {
  abstract readonly name: string;
  #context: PluginContext | undefined;
  #loop: LeaderLoop<R> | undefined;

  /** Runs once, on the started node's database unless `target` is given. */
  abstract runOnce(target?: MaintenanceTarget): Promise<R>;

  /** How the loop runs on `context`: its interval and what it does with each result. */
  protected abstract loopOptions(
    context: PluginContext,
  ): Omit<LeaderLoopOptions<R>, "name" | "run">;

  /** Starts the loop: it runs on the leader only. */
  start(context: PluginContext): void {
    this.#context = context;
    this.#loop = new LeaderLoop(context, {
      ...this.loopOptions(context),
      name: this.name,
      run: () => this.runOnce(context),
    });
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    this.#loop = undefined;
  }

  /** `target`, else the started node's database. */
  protected targetOf(target: MaintenanceTarget | undefined): MaintenanceTarget {
    const chosen = target ?? this.#context;
    if (!chosen) {
      throw new QueueStateError(`${this.name}.runOnce(): not started, and no target given`);
    }
    return chosen;
  }
}
