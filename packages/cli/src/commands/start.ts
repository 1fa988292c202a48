import { constants } from "node:os";
import { type Command, Option } from "commander";
import { Queue, withCleanupTargets } from "docket";
import { CliError, exitCodes } from "../cli-error.js";
import { type LogLevel, logLevels, stderrLogger } from "../console-logger.js";
import { type CommonOptions, commandContext, withCommonOptions } from "../context.js";
import { startHealthServer } from "../health-server.js";
import { loadModules } from "../load-modules.js";

interface StartOptions extends CommonOptions {
  migrate?: boolean;
  logLevel: LogLevel;
  queues?: string;
  healthPort?: string;
  healthHost: string;
}

/**
 * `--queues mailers,exports:4`: only these of the config's queues, a limit after a colon
 * overriding (or, for a queue the config lacks, giving) the one configured.
 */
function selectQueues(configured: Record<string, unknown>, text: string): Record<string, unknown> {
  const selected: Record<string, unknown> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const match = /^([^:]+)(?::(\d+))?$/.exec(part);
    const name = match?.[1];
    if (!match || name === undefined) {
      throw new CliError(
        `--queues takes name or name:limit, comma-separated; got ${JSON.stringify(part)}`,
        {
          exitCode: exitCodes.usage,
        },
      );
    }
    const base = configured[name];
    if (match[2] === undefined && base === undefined) {
      throw new CliError(
        `--queues: ${name} is not a queue of the config (known: ${Object.keys(configured).join(", ") || "none"}); give it a limit as ${name}:N`,
        { exitCode: exitCodes.usage },
      );
    }
    if (match[2] === undefined) selected[name] = base;
    else if (typeof base === "object" && base !== null)
      selected[name] = { ...base, limit: Number(match[2]) };
    else selected[name] = Number(match[2]);
  }
  if (Object.keys(selected).length === 0) {
    throw new CliError("--queues names no queue", { exitCode: exitCodes.usage });
  }
  return selected;
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) {
    throw new CliError(
      `--health-port must be a port from 1 to 65535, got ${JSON.stringify(text)}`,
      {
        exitCode: exitCodes.usage,
      },
    );
  }
  return n;
}

/** Outcomes of the jobs this process ran, for the summary printed at exit. */
interface JobCounts {
  completed: number;
  failed: number;
  discarded: number;
  cancelled: number;
  snoozed: number;
}

/**
 * Resolves with the first SIGTERM or SIGINT. A second one exits the process at once with
 * 128 + the signal's number: jobs still running are left to the lifeline of another node.
 */
function firstSignal(
  onFirst: (signal: NodeJS.Signals) => void,
  onForce: (signal: NodeJS.Signals) => void,
) {
  let received: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const handler = (signal: NodeJS.Signals) => {
    if (received !== undefined) {
      onForce(signal);
      process.exit(128 + (constants.signals[signal] ?? 1));
    }
    received = signal;
    onFirst(signal);
    resolve(signal);
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return promise;
}

/** `docket start`: runs the queues, plugins and cron of the config until SIGTERM or SIGINT. */
export function registerStart(program: Command): void {
  withCommonOptions(
    program
      .command("start")
      .description("run the queues, plugins and cron of the config until SIGTERM / SIGINT")
      .option("--migrate", "apply pending migrations before starting")
      .option(
        "--queues <list>",
        "run only these queues of the config: name or name:limit, comma-separated",
      )
      .option("--health-port <port>", "serve /healthz and /readyz (Kubernetes probes) on this port")
      .option("--health-host <host>", "address of the health server", "0.0.0.0")
      .addOption(
        new Option("--log-level <level>", "what to log on stderr")
          .choices(logLevels)
          .default("info"),
      ),
  )
    .addHelpText(
      "after",
      `
Workers come from the config's "modules": every export made by defineWorker (or
defineCleanupTarget) is registered. The first SIGTERM or SIGINT stops gracefully: no more
jobs are fetched and running ones get shutdown_grace to finish; a second one exits at once.

Examples:
  $ docket start --config docket.toml
  $ DOCKET_QUEUES=mailers:20 docket start --log-level debug
  $ docket start --queues mailers,exports:4 --health-port 9090`,
    )
    .action(async (options: StartOptions) => {
      const logger = stderrLogger(options.logLevel);
      const healthPort = options.healthPort === undefined ? undefined : port(options.healthPort);
      let context = await commandContext(options);
      const loaded = await loadModules(context.config.modules);
      if (loaded.cleanupTargets.length > 0) {
        // Re-read so that CLEANUP_<TARGET>_* variables get the targets' own spelling.
        context = await commandContext(options, {
          cleanupTargets: loaded.cleanupTargets.map((t) => t.name),
        });
      }
      const { config, output } = context;
      for (const module of loaded.empty) {
        logger.warn(`module ${module} exports no workers or cleanup targets`);
      }
      const configured = (config.options.workers ?? []) as Queue["options"]["workers"];
      const queues =
        options.queues === undefined
          ? config.options.queues
          : selectQueues((config.options.queues ?? {}) as Record<string, unknown>, options.queues);
      const queue = new Queue({
        ...config.options,
        queues: queues as Queue["options"]["queues"],
        workers: [...configured, ...loaded.workers],
        cleanup: withCleanupTargets(config.options.cleanup, loaded.cleanupTargets),
        logger,
      });
      logger.info(`loaded ${loaded.workers.length} worker(s)`, {
        workers: loaded.workers.map((w) => w.name),
        cleanupTargets: loaded.cleanupTargets.map((t) => t.name),
      });

      const jobs: JobCounts = { completed: 0, failed: 0, discarded: 0, cancelled: 0, snoozed: 0 };
      queue.on("job:complete", ({ job, durationMs }) => {
        jobs.completed++;
        logger.debug("job completed", { id: job.id, worker: job.worker, durationMs });
      });
      queue.on("job:error", ({ job, error, state }) => {
        jobs.failed++;
        logger.warn("job failed", {
          id: job.id,
          worker: job.worker,
          attempt: job.attempt,
          state,
          error,
        });
      });
      queue.on("job:discard", () => void jobs.discarded++);
      queue.on("job:cancel", () => void jobs.cancelled++);
      queue.on("job:snooze", () => void jobs.snoozed++);

      const graceSeconds = queue.options.shutdownGrace / 1000;
      const signal = firstSignal(
        (s) =>
          logger.info(
            `${s}: stopping; running jobs have ${graceSeconds}s to finish (send ${s} again to force)`,
          ),
        (s) =>
          logger.warn(`${s} again: exiting now; unfinished jobs will be rescued by the lifeline`),
      );
      // Up before start(): /readyz says 503 while starting, /healthz 200 from the first moment.
      const health =
        healthPort === undefined
          ? undefined
          : await startHealthServer(queue, healthPort, options.healthHost);
      if (health) logger.info(`health probes on http://${options.healthHost}:${healthPort}/readyz`);
      try {
        if (options.migrate) await queue.migrate();
        await queue.start();
      } catch (error) {
        await queue.stop({ grace: 0 }).catch(() => {});
        health?.close();
        throw error;
      }
      const received = await signal;
      await queue.stop();
      await new Promise((resolve) => (health ? health.close(resolve) : resolve(undefined)));
      output.result(
        {
          node: queue.node,
          schema: queue.schema,
          queues: Object.keys(queue.options.queues),
          workers: loaded.workers.map((w) => w.name),
          cleanupTargets: loaded.cleanupTargets.map((t) => t.name),
          signal: received,
          jobs,
        },
        () => [],
      );
    });
}
