// docs/configuration.md documents every option of the schema: this walks the schema (nested
// object keys included) and fails when an option has no row, or a row names no option.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { listOptions, type OptionPath } from "../packages/docket/src/config/schema-walk.js";
import { camelToSnake } from "../packages/docket/src/config/toml-keys.js";
import { queueOptionsSchema } from "../packages/docket/src/queue-options.js";

const doc = readFileSync(
  fileURLToPath(new URL("../docs/configuration.md", import.meta.url)),
  "utf8",
);

/** Options whose file key is not the snake_case of the constructor's. */
const fileAliases: Record<string, string> = { connection: "database_url" };

function render(segments: readonly string[], file: boolean): string {
  let out = "";
  for (const segment of segments) {
    if (segment === "[]") out += "[]";
    else {
      const text = file && segment !== "<name>" ? camelToSnake(segment) : segment;
      out += out ? `.${text}` : text;
    }
  }
  return file ? (fileAliases[out] ?? out) : out;
}

interface Row {
  file: string;
  code: string;
  line: string;
}

/** Rows of the reference tables: those whose header starts with "TOML key | Constructor key". */
function referenceRows(): Row[] {
  const rows: Row[] = [];
  let inTable = false;
  for (const line of doc.split("\n")) {
    if (!line.startsWith("|")) {
      inTable = false;
      continue;
    }
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    if (cells[0] === "TOML key" && cells[1] === "Constructor key") {
      inTable = true;
      continue;
    }
    if (!inTable || /^-+$/.test(cells[0] ?? "")) continue;
    const key = (cell: string | undefined) => /^`([^`]+)`$/.exec(cell ?? "")?.[1] ?? cell ?? "";
    rows.push({ file: key(cells[0]), code: key(cells[1]), line });
  }
  return rows;
}

const options: OptionPath[] = listOptions(queueOptionsSchema);
const rows = referenceRows();

test("the schema has options and the doc has reference rows", () => {
  expect(options.length).toBeGreaterThan(20);
  expect(rows.length).toBeGreaterThan(20);
});

test("every option of the schema has a row, with its file key or — when it takes code", () => {
  const byCode = new Map(rows.map((row) => [row.code, row]));
  const missing: string[] = [];
  const wrongFileKey: string[] = [];
  for (const option of options) {
    const code = render(option.segments, false);
    const row = byCode.get(code);
    if (!row) {
      missing.push(code);
      continue;
    }
    const file = option.code ? "—" : render(option.segments, true);
    if (row.file !== file)
      wrongFileKey.push(`${code}: the TOML key should be ${file}, the doc says ${row.file}`);
  }
  expect(missing, "options missing from docs/configuration.md").toEqual([]);
  expect(wrongFileKey).toEqual([]);
});

test("every row names an option of the schema (or is file-only)", () => {
  const known = new Set(options.map((option) => render(option.segments, false)));
  const stale = rows
    .filter((row) => row.code !== "—" && !known.has(row.code))
    .map((row) => row.code);
  expect(stale, "rows of docs/configuration.md naming no option").toEqual([]);
});
