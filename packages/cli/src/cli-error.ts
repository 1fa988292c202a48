import { ConfigError, DocketError } from "docket";

/** Exit codes of the docket command. */
export const exitCodes = {
  ok: 0,
  /** Something failed at run time: the database, a migration, a job module. */
  failure: 1,
  /** The command line or the configuration is wrong. */
  usage: 2,
  /** `docket cleanup`: the timeout stopped the run; the result says how far it got. */
  timedOut: 3,
  /** `docket cleanup`: another run of the target holds its lock (see --wait). */
  locked: 4,
} as const;

/** A failure the command reports as one line, with its exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string;
  /** The command printed its result document already: with --json, print no error document. */
  readonly resultPrinted: boolean;

  constructor(
    message: string,
    options: { exitCode?: number; code?: string; cause?: unknown; resultPrinted?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "CliError";
    this.exitCode = options.exitCode ?? exitCodes.failure;
    this.code = options.code ?? "CLI_FAILED";
    this.resultPrinted = options.resultPrinted ?? false;
  }
}

/** The one-line message, stable code and exit code of anything a command threw. */
export function describeFailure(error: unknown): {
  message: string;
  code: string;
  exitCode: number;
} {
  if (error instanceof CliError)
    return { message: error.message, code: error.code, exitCode: error.exitCode };
  if (error instanceof ConfigError)
    return { message: error.message, code: error.code, exitCode: exitCodes.usage };
  if (error instanceof DocketError)
    return { message: error.message, code: error.code, exitCode: exitCodes.failure };
  const pgCode = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : String(error);
  let message = text;
  if (error instanceof Error && error.name === "PostgresError") message = `database error: ${text}`;
  else if (typeof pgCode === "string" && /^[A-Z_]+$/.test(pgCode))
    message = `cannot reach the database: ${text}`;
  return {
    message: oneLine(message),
    code: typeof pgCode === "string" ? pgCode : "UNEXPECTED",
    exitCode: exitCodes.failure,
  };
}

/** Collapses a message to one line, as an operator's terminal and a log line want it. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
