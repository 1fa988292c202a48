import type { Sql } from "postgres";
import { type Listener, pollOnly } from "../db/listen-connection.js";
import { ConfigError } from "../errors.js";
import type { QueueEvents } from "../events.js";
import type { Logger } from "../logger.js";
import type { ParsedQueueOptions } from "../queue-options.js";
import type { HeartbeatRow } from "../sql/maintenance/producers.js";
import { deleteStaleProducerRows, Heartbeat } from "./heartbeat.js";
import { LeaderElection } from "./leader-election.js";
import { LeaderLoop } from "./leader-loop.js";
import { Lifeline } from "./lifeline.js";
import type { Plugin, PluginContext } from "./plugin.js";
import { Pruner } from "./pruner.js";
import { Stager } from "./stager.js";
import { StatsRollup } from "./stats-rollup.js";

type Emit = <K extends keyof QueueEvents>(event: K, ...args: QueueEvents[K]) => void;

/** What a node's {@link Maintenance} needs from the queue. */
export interface MaintenanceConfig {
  executor: Sql;
  /** Where LISTEN runs; none when left out (leadership is then found by polling). */
  listener?: Listener;
  options: Readonly<ParsedQueueOptions>;
  /**
   * Further built-in plugins of the queue (cron), started after the pruner and lifeline and
   * before the user's `plugins`.
   */
  builtIns?: readonly Plugin[];
  logger: Logger;
  emit: Emit;
}

/** What the heartbeat reads at every beat: the node's running queues and their limits. */
export interface RunningQueues {
  heartbeatRows(): HeartbeatRow[];
}

/**
 * Everything of one node beside fetching and running jobs: its heartbeat, its part in the
 * leader election, the plugins (built-in pruner and lifeline, and the user's), and the leader's
 * own chores (staging due jobs, deleting stale producer rows). The queue talks to the pruner and
 * lifeline only through the {@link Plugin} interface, here.
 */
export class Maintenance {
  /** The node's plugins: the built-in ones first, then the user's. */
  readonly plugins: readonly Plugin[];
  readonly #config: MaintenanceConfig;
  readonly #listeners = new Set<(isLeader: boolean) => void>();
  #loops: { stop(): Promise<void> }[] = [];
  #election: LeaderElection | undefined;
  #heartbeat: Heartbeat | undefined;
  #started: Plugin[] = [];

  /** @throws ConfigError for two plugins of one name. */
  constructor(config: MaintenanceConfig) {
    this.#config = config;
    const plugins: Plugin[] = [];
    // The queue's schema parsed the built-ins' options: they take them as they are.
    const { pruner, lifeline, stats } = config.options;
    if (pruner !== false) plugins.push(Pruner.fromParsed(pruner));
    if (lifeline !== false) plugins.push(Lifeline.fromParsed(lifeline));
    if (stats !== false) plugins.push(new StatsRollup(stats));
    plugins.push(...(config.builtIns ?? []), ...config.options.plugins);
    const names = new Set<string>();
    for (const [index, plugin] of plugins.entries()) {
      if (names.has(plugin.name)) {
        const builtIn = ["pruner", "lifeline", "stats"].includes(plugin.name);
        const hint = builtIn ? ` (set ${plugin.name}: false to replace the built-in one)` : "";
        const userIndex = index - (plugins.length - config.options.plugins.length);
        throw new ConfigError(`plugins: two plugins are named "${plugin.name}"${hint}`, {
          path: userIndex >= 0 ? `plugins[${userIndex}]` : "plugins",
        });
      }
      names.add(plugin.name);
    }
    this.plugins = Object.freeze(plugins);
  }

  /** Whether this node leads now. */
  get isLeader(): boolean {
    return this.#election?.isLeader ?? false;
  }

  /**
   * Writes the first heartbeat of `running` (before any job is fetched), starts the plugins and
   * the leader's chores, then takes part in the election; resolves after the first election
   * attempt.
   */
  async start(running: RunningQueues): Promise<void> {
    const { executor, options, logger, emit } = this.#config;
    const { schema, node } = options;
    const onError = (source: string) => (error: unknown) => {
      logger.error(`docket ${source} error`, { error });
      emit("queue:error", { error, source });
    };
    this.#heartbeat = new Heartbeat({
      executor,
      schema,
      node,
      intervalMs: options.heartbeat.interval,
      timeoutMs: options.heartbeat.timeout,
      queues: () => running.heartbeatRows(),
      onError: onError("heartbeat"),
    });
    await this.#heartbeat.start();

    const context: PluginContext = {
      executor,
      schema,
      node,
      logger,
      heartbeatTimeoutMs: options.heartbeat.timeout,
      emit,
      isLeader: () => this.isLeader,
      onLeadershipChange: (listener) => {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
    };
    const stager = new Stager(executor, schema);
    this.#loops.push(
      new LeaderLoop(context, {
        name: "stager",
        intervalMs: options.stageInterval,
        run: () => stager.runOnce(),
      }),
      new LeaderLoop(context, {
        name: "producers",
        intervalMs: options.heartbeat.interval,
        run: () => deleteStaleProducerRows(executor, schema, options.heartbeat.timeout),
        onResult: (rows) => {
          if (rows.length > 0)
            logger.info("docket removed stale producers", {
              producers: rows.map((r) => `${r.node}/${r.queue}`),
            });
        },
      }),
    );
    for (const plugin of this.plugins) {
      await plugin.start(context);
      this.#started.push(plugin);
    }

    if (options.leadership === false) return;
    this.#election = new LeaderElection({
      executor,
      listener: this.#config.listener ?? pollOnly,
      schema,
      node,
      ttlMs: options.leadership.ttl,
      onChange: (isLeader) => {
        logger.info(isLeader ? "docket node leads" : "docket node no longer leads", { node });
        emit("leader:change", { isLeader, node });
        for (const listener of [...this.#listeners]) {
          try {
            listener(isLeader);
          } catch (error) {
            onError("leadership")(error);
          }
        }
      },
      onError: onError("leadership"),
    });
    await this.#election.start();
  }

  /**
   * Gives up the leadership at once and stops the plugins and the leader's chores; the node's
   * jobs keep running and its heartbeat keeps beating.
   */
  async resign(): Promise<void> {
    const { logger, emit } = this.#config;
    await Promise.all([
      this.#election?.stop(),
      ...this.#loops.map((loop) => loop.stop()),
      ...this.#started.map(async (plugin) => {
        try {
          await plugin.stop();
        } catch (error) {
          logger.error(`docket plugin ${plugin.name} failed to stop`, { error });
          emit("queue:error", { error, source: plugin.name });
        }
      }),
    ]);
    this.#started = [];
    this.#loops = [];
    this.#listeners.clear();
  }

  /** Stops the heartbeat and deletes this node's producer rows; call once no job runs here. */
  async stopHeartbeat(): Promise<void> {
    await this.#heartbeat?.stop();
  }
}
