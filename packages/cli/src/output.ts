/**
 * What a command prints. With `--json` a command prints exactly one JSON document on stdout
 * (its result, or `{ "error": … }`); otherwise text for people. Logs and errors go to stderr.
 */
export interface Output {
  readonly json: boolean;
  /** Prints the command's result: `document` with --json, else the lines `text()` returns. */
  result(document: unknown, text: () => string[]): void;
  /** A line for people on stderr (progress, notices); silent with --json. */
  note(line: string): void;
}

/** The output of a command: JSON with `--json`, text otherwise. */
export function createOutput(json: boolean): Output {
  return {
    json,
    result(document, text) {
      if (json) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      else for (const line of text()) process.stdout.write(`${line}\n`);
    },
    note(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}

/** Left-aligned columns separated by two spaces, a header first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
