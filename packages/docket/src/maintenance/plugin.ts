import type { Sql } from "postgres";
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
  /** See {@link PluginContext.heartbeatTimeoutMs}; defaults to 10 seconds. */
  readonly heartbeatTimeoutMs?: number;
}
