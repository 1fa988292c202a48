import type { Command } from "commander";
import {
  CleanupLockedError,
  type CleanupResult,
  CleanupTargetNotFoundError,
  type CleanupTargetSummary,
  Queue,
  withCleanupTargets,
} from "docket";
import { CliError, exitCodes } from "../cli-error.js";
import { stderrLogger } from "../console-logger.js";
import { type CommonOptions, commandContext, withCommonOptions } from "../context.js";
import { loadModules } from "../load-modules.js";
import { table } from "../output.js";

interface CleanupOptions extends CommonOptions {
  list?: boolean;
  timeout?: string;
  wait?: string;
  verbose?: boolean;
}

/** `45 ms`, `2.3 s`, `4 min`. */
function took(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function listLines(targets: CleanupTargetSummary[]): string[] {
  return table(
    ["TARGET", "SCHEDULE", "QUEUE", "DESCRIPTION"],
    targets.map((t) => [
      t.name,
      t.schedule ? `${t.schedule}${t.timezone === "UTC" ? "" : ` (${t.timezone})`}` : "-",
      t.queue,
      t.description,
    ]),
  );
}

/** Resolves when SIGTERM or SIGINT arrives, so that a run can stop between batches. */
function stopOnSignal(controller: AbortController): () => void {
  const handler = (signal: NodeJS.Signals) => controller.abort(new Error(`received ${signal}`));
  process.once("SIGTERM", handler);
  process.once("SIGINT", handler);
  return () => {
    process.off("SIGTERM", handler);
    process.off("SIGINT", handler);
  };
}

/**
 * `docket cleanup <Target>`: runs one cleanup target now, in this process, under its
 * lease, and prints its JSON result; `docket cleanup --list` lists the targets. For clusters that
 * schedule cleanups from outside (a Kubernetes CronJob). Exit codes: 0 done, 1 failed, 2 bad
 * usage or configuration, 3 stopped by --timeout (the result says how far it got), 4 another
 * run of the target is working.
 */
export function registerCleanup(program: Command): void {
  withCommonOptions(
    program
      .command("cleanup [target]")
      .description("run one cleanup target now and print its JSON result")
      .option("--list", "list the cleanup targets with their descriptions")
      .option(
        "--timeout <duration>",
        "stop between batches after this long (e.g. 10m); exit code 3",
      )
      .option(
        "--wait <duration>",
        "wait this long for another run of the target to finish (default: exit 4 at once)",
      )
      .option("--verbose", "log progress on stderr"),
  )
    .addHelpText(
      "after",
      `
Targets come from the config's "modules" (every export made by defineCleanupTarget), beside
the built-in Jobs, JobArchive, DatabaseMaintenance and Producers. Two runs of one target never
work at once: the second exits with code 4 unless --wait lets it wait. SIGTERM / SIGINT stop the
run between batches; the result is printed all the same.

Exit codes: 0 done; 1 failed (the result carries the error); 2 bad usage or configuration;
3 stopped by --timeout or a signal before it was done; 4 another run of the target is working.

Examples:
  $ docket cleanup --list
  $ docket cleanup DeploymentLogRecord --timeout 10m
  $ docket cleanup Jobs --json --config /etc/app/docket.toml`,
    )
    .action(async (target: string | undefined, options: CleanupOptions) => {
      if (!options.list && target === undefined) {
        throw new CliError("name a target (docket cleanup <Target>) or use --list", {
          exitCode: exitCodes.usage,
          code: "USAGE",
        });
      }
      let context = await commandContext(options);
      const loaded = await loadModules(context.config.modules);
      if (loaded.cleanupTargets.length > 0) {
        // Re-read so that CLEANUP_<TARGET>_* variables get the targets' own spelling.
        context = await commandContext(options, {
          cleanupTargets: loaded.cleanupTargets.map((t) => t.name),
        });
      }
      const { config, output } = context;
      const configured = (config.options.workers ?? []) as Queue["options"]["workers"];
      const queue = new Queue({
        ...config.options,
        workers: [...configured, ...loaded.workers],
        cleanup: withCleanupTargets(config.options.cleanup, loaded.cleanupTargets),
        poolSize: 3,
        logger: stderrLogger(options.verbose ? "debug" : "silent"),
      });
      try {
        if (options.list) {
          const targets = queue.cleanupTargets();
          output.result({ targets }, () => listLines(targets));
          return;
        }
        await runTarget(queue, target as string, options, output.result.bind(output));
      } finally {
        await queue.stop({ grace: 0 }).catch(() => {});
      }
    });
}

async function runTarget(
  queue: Queue,
  target: string,
  options: CleanupOptions,
  print: (document: unknown, text: () => string[]) => void,
): Promise<void> {
  const controller = new AbortController();
  const forget = stopOnSignal(controller);
  let result: CleanupResult;
  try {
    result = await queue.runCleanup(target, {
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      ...(options.wait === undefined ? {} : { wait: options.wait }),
      signal: controller.signal,
    });
  } catch (error) {
    if (error instanceof CleanupLockedError) {
      throw new CliError(`${error.message}; not running it twice (use --wait to wait for it)`, {
        exitCode: exitCodes.locked,
        code: error.code,
      });
    }
    if (error instanceof CleanupTargetNotFoundError) {
      throw new CliError(`${error.message} (docket cleanup --list)`, {
        exitCode: exitCodes.usage,
        code: error.code,
      });
    }
    throw error;
  } finally {
    forget();
  }
  // The JSON result is what this command is for: printed with and without --json.
  print(result, () => [JSON.stringify(result, null, 2)]);
  if (result.error !== undefined) {
    throw new CliError(
      `cleanup ${result.target} failed after removing ${result.totalDeleted} rows: ${result.error}`,
      {
        exitCode: exitCodes.failure,
        code: "CLEANUP_FAILED",
        resultPrinted: true,
      },
    );
  }
  if (!result.success) {
    const why = result.timedOut ? "timed out" : "was stopped";
    throw new CliError(
      `cleanup ${result.target} ${why} after ${took(result.durationMs)} with ${result.totalDeleted} rows removed; run it again to go on`,
      { exitCode: exitCodes.timedOut, code: "CLEANUP_INCOMPLETE", resultPrinted: true },
    );
  }
}
