import { existsSync } from "node:fs";
import type { Command } from "commander";
import { ConfigError, type LoadedConfig, loadConfig, Queue } from "docket";
import postgres, { type Sql } from "postgres";
import { CliError, exitCodes } from "./cli-error.js";
import { createOutput, type Output } from "./output.js";

/** The options every command takes. */
export interface CommonOptions {
  config?: string;
  json?: boolean;
}

/** The config file read when `--config` is not given, in the current folder. */
export const defaultConfigFile = "docket.toml";

/** Adds `--config` and `--json` to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option(
      "-c, --config <path>",
      `config file (default: ./${defaultConfigFile}, optional when the environment has a database URL)`,
    )
    .option("--json", "print exactly one JSON document on stdout");
}

/** What a command works with: its output and its configuration. */
export interface CommandContext {
  output: Output;
  config: LoadedConfig;
  /** The config file as the user named it, for messages. */
  configLabel: string;
}

/**
 * Loads the configuration of a command. An explicit `--config` must exist; the default
 * `docket.toml` may be missing, when the environment and defaults say enough.
 */
export async function commandContext(
  options: CommonOptions,
  extra: { cleanupTargets?: Iterable<string> } = {},
): Promise<CommandContext> {
  const output = createOutput(options.json ?? false);
  const path = options.config ?? defaultConfigFile;
  const loadOptions: Parameters<typeof loadConfig>[1] = { optional: options.config === undefined };
  if (extra.cleanupTargets) loadOptions.cleanupTargets = extra.cleanupTargets;
  try {
    const config = await loadConfig(path, loadOptions);
    return { output, config, configLabel: path };
  } catch (error) {
    if (
      error instanceof ConfigError &&
      error.path === "connection" &&
      error.message.startsWith("no database URL")
    ) {
      const where = existsSync(path)
        ? path
        : `a config file (--config, default ./${defaultConfigFile})`;
      throw new CliError(
        `no database URL: set database_url in ${where}, or the DOCKET_DATABASE_URL or DATABASE_URL environment variable`,
        { exitCode: exitCodes.usage, code: error.code },
      );
    }
    throw error;
  }
}

/**
 * A small connection pool of the command's own, for commands that only read or migrate. The
 * caller ends it.
 */
export function openDatabase(config: LoadedConfig): Sql {
  const { connection } = config.options;
  if (typeof connection !== "string")
    throw new CliError("the configuration has no database URL", { exitCode: exitCodes.usage });
  return postgres(connection, {
    max: 2,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: "docket-cli" },
  });
}

/** Runs `body` with a database pool and always ends the pool. */
export async function withDatabase<T>(
  config: LoadedConfig,
  body: (sql: Sql) => Promise<T>,
): Promise<T> {
  const sql = openDatabase(config);
  try {
    return await body(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The schema of the configuration, `docket` unless set. */
export function schemaOf(config: LoadedConfig): string {
  return config.options.schema ?? "docket";
}

/**
 * A queue for commands that only administer (jobs, queues, dashboard): the configuration's
 * database and schema, no workers, nothing started. The caller stops it.
 */
export function adminQueue(config: LoadedConfig): Queue {
  const { connection, schema, heartbeat } = config.options;
  return new Queue({
    connection,
    ...(schema === undefined ? {} : { schema }),
    ...(heartbeat === undefined ? {} : { heartbeat }),
    poolSize: 3,
  });
}
