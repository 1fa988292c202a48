import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { CliError, describeFailure, exitCodes, oneLine } from "./cli-error.js";
import { registerCleanup } from "./commands/cleanup.js";
import { registerDashboard } from "./commands/dashboard.js";
import { registerJobs } from "./commands/jobs.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerQueues } from "./commands/queues.js";
import { registerStart } from "./commands/start.js";
import { registerStatus } from "./commands/status.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The `docket` program. Each command lives in `commands/<name>.ts` and registers itself here;
 * a new command is one new file and one line below.
 */
export function buildProgram(): Command {
  const program = new Command("docket")
    .description(
      "docket: a durable PostgreSQL job queue. Run and inspect the queues of a docket.toml.",
    )
    .version(version(), "-v, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .configureOutput({
      outputError: (text, write) => write(`docket: ${oneLine(text.replace(/^error: /, ""))}\n`),
    })
    .exitOverride()
    .addHelpText(
      "after",
      `
Configuration comes from docket.toml in the current folder (or --config), overridden by
DOCKET_DATABASE_URL / DATABASE_URL, DOCKET_SCHEMA, DOCKET_QUEUES, DOCKET_NODE and
CLEANUP_<TARGET>_CRON / _TIMEOUT. See docs/configuration.md and docs/cli.md.

Examples:
  $ docket migrate --config docket.toml
  $ docket start --config docket.toml
  $ docket status --json
  $ DATABASE_URL=postgres://localhost/app docket migrate --status`,
    );
  registerMigrate(program);
  registerStart(program);
  registerStatus(program);
  registerCleanup(program);
  registerJobs(program);
  registerQueues(program);
  registerDashboard(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride();
  return program;
}

/**
 * Runs the command line and returns the exit code. Failures print one line on stderr (and,
 * with --json, `{ "error": … }` on stdout), never a stack trace.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed help, the version, or its one-line complaint already.
      if (error.exitCode === 0) return exitCodes.ok;
      const message = oneLine(error.message.replace(/^error: /, ""));
      printJsonError(argv, error.code, message);
      return exitCodes.usage;
    }
    const failure = describeFailure(error);
    process.stderr.write(`docket: ${failure.message}\n`);
    // For reporting a bug in docket itself: the stack, on request only.
    if (process.env.DOCKET_DEBUG && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    if (!(error instanceof CliError && error.resultPrinted)) {
      printJsonError(argv, failure.code, failure.message);
    }
    return failure.exitCode;
  }
}

/** With --json, failures too are one JSON document on stdout. */
function printJsonError(argv: readonly string[], code: string, message: string): void {
  if (!argv.includes("--json")) return;
  process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
}
