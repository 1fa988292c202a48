import type { Logger } from "docket";

/** Levels of `--log-level`, from chattiest to quietest. */
export const logLevels = ["debug", "info", "warn", "error", "silent"] as const;
/** One of {@link logLevels}. */
export type LogLevel = (typeof logLevels)[number];

function render(fields: Record<string, unknown> | undefined): string {
  if (!fields || Object.keys(fields).length === 0) return "";
  const plain = JSON.stringify(fields, (_key, value: unknown) =>
    value instanceof Error
      ? { name: value.name, message: value.message }
      : typeof value === "bigint"
        ? String(value)
        : value,
  );
  return ` ${plain}`;
}

/** A docket logger writing one line per message to stderr: time, level, message, fields. */
export function stderrLogger(level: LogLevel): Logger {
  const threshold = logLevels.indexOf(level);
  const write = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (logLevels.indexOf(at) < threshold) return;
    process.stderr.write(
      `${new Date().toISOString()} ${at.padEnd(5)} ${message}${render(fields)}\n`,
    );
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
