import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { keysAt } from "./schema-walk.js";
import { camelToSnake, renderPath, unknownKeyMessage } from "./toml-keys.js";

/**
 * Error messages for options merged from several sources. Each problem is reported where the
 * user can fix it: a value from the file as `docket.toml: pruner.max_age: …`, one from the
 * environment as `DOCKET_QUEUES: queues.mailers: …`, one passed in code as `pruner.maxAge: …`.
 */

/** Where a value came from. */
export type Origin =
  | { kind: "file"; file: string }
  | { kind: "env"; variable: string }
  | { kind: "code" };

/** One value set by a source, at a data path in constructor form. */
export interface Provenance {
  path: readonly PropertyKey[];
  origin: Origin;
}

function isPrefix(prefix: readonly PropertyKey[], path: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/**
 * The source of the value at `path`: the last source that set it, a parent of it (a whole
 * table) or something inside it. Values no source set (a missing key) are the code's.
 */
export function originOf(entries: readonly Provenance[], path: readonly PropertyKey[]): Origin {
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i] as Provenance;
    if (isPrefix(entry.path, path) || isPrefix(path, entry.path)) return entry.origin;
  }
  return { kind: "code" };
}

/** Records every leaf of a layer (plain objects are walked, anything else is a leaf). */
export function provenanceOf(
  layer: unknown,
  origin: Origin,
  isPlainObject: (value: unknown) => value is Record<string, unknown>,
  path: PropertyKey[] = [],
): Provenance[] {
  if (!isPlainObject(layer) || (Object.keys(layer).length === 0 && path.length > 0)) {
    return path.length > 0 ? [{ path, origin }] : [];
  }
  return Object.entries(layer).flatMap(([key, value]) =>
    provenanceOf(value, origin, isPlainObject, [...path, key]),
  );
}

/** Says what a value is, for "expected number or object, received string". */
function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

type Issue = z.core.$ZodIssue;

/**
 * A union that fails reports every branch; the user meant the branch whose complaint reaches
 * deepest into the input (a table given where a number or a table is accepted failed inside the
 * table branch). When no branch got past the type, the message lists what would have fitted.
 */
function flattenUnions(issues: readonly Issue[], input: unknown): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code !== "invalid_union" || issue.errors.length === 0) {
      out.push(issue);
      continue;
    }
    const depth = (branch: readonly Issue[]) => Math.max(0, ...branch.map((i) => i.path.length));
    const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
    if (depth(best) > 0) {
      const nested = best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as Issue);
      out.push(...flattenUnions(nested, input));
      continue;
    }
    const expected = issue.errors
      .flat()
      .flatMap((i) => (i.code === "invalid_type" ? [String(i.expected)] : []));
    const unique = [...new Set(expected)];
    if (unique.length > 0 && unique.length === issue.errors.flat().length) {
      const received = describeValue(valueAt(input, issue.path));
      out.push({ ...issue, message: `expected ${unique.join(" or ")}, received ${received}` });
    } else {
      out.push(
        ...issue.errors.flat().map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as Issue),
      );
    }
  }
  return out;
}

function where(
  origin: Origin,
  schema: z.ZodType,
  path: readonly PropertyKey[],
  aliases: Readonly<Record<string, string>>,
): { label: string; path: string } {
  const style = origin.kind === "code" ? "code" : "file";
  const [first, ...rest] = path;
  const alias = style === "file" && typeof first === "string" ? aliases[first] : undefined;
  const rendered =
    alias === undefined
      ? renderPath(schema, path, style)
      : [alias, renderPath(schema, rest, style)].filter(Boolean).join(".");
  if (origin.kind === "file") return { label: `${origin.file}: ${rendered}`, path: rendered };
  if (origin.kind === "env") return { label: `${origin.variable}: ${rendered}`, path: rendered };
  return { label: rendered, path: rendered };
}

/**
 * Turns a failed parse of merged options into one {@link ConfigError} whose message names each
 * offending option as its source spells it and says what was expected. `aliases` renames
 * top-level options whose file key differs from the constructor's (`connection` → `database_url`).
 */
export function mergedOptionsError(
  error: z.ZodError,
  schema: z.ZodType,
  entries: readonly Provenance[],
  input: unknown,
  aliases: Readonly<Record<string, string>> = {},
): ConfigError {
  const messages: string[] = [];
  let firstPath: string | undefined;
  for (const issue of flattenUnions(error.issues, input)) {
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(schema, issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const origin = originOf(entries, path);
        const at = where(origin, schema, path, aliases);
        // Suggest the spelling of the source: snake_case for the file and the environment.
        const spelled = origin.kind === "code" ? known : known.map(camelToSnake);
        firstPath ??= at.path;
        messages.push(`${at.label}: ${unknownKeyMessage(key, spelled)}`);
      }
      continue;
    }
    const at = where(originOf(entries, issue.path), schema, issue.path, aliases);
    firstPath ??= at.path;
    messages.push(`${at.label}: ${issue.message}`);
  }
  const options: { path?: string; cause: unknown } = { cause: error };
  if (firstPath !== undefined) options.path = firstPath;
  return new ConfigError(messages.join("; "), options);
}
