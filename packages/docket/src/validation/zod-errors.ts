import type { z } from "zod";
import { ConfigError } from "../errors.js";

/** Edit distance between two short strings, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + cost);
      previous = current;
    }
  }
  return row[b.length] as number;
}

/** The known key closest to `key`, if one is close enough to be a likely typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase().replace(/[-_]/g, "");
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const score = distance(lower, candidate.toLowerCase().replace(/[-_]/g, ""));
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(key.length / 3))
    ? best
    : undefined;
}

type AnySchema = z.ZodType;

/** The keys an object schema knows at `path`, looking through optional, default and pipes. */
function keysAt(schema: AnySchema | undefined, path: readonly PropertyKey[]): string[] {
  let current = schema;
  let index = 0;
  for (let guard = 0; current && guard < 100; guard++) {
    // zod 4's public definition of the schema (`.def`), read as a record: every kind is handled.
    const def = current.def as unknown as Record<string, unknown>;
    if (def.type === "object") {
      if (index === path.length) return Object.keys(def.shape as object);
      current = (def.shape as Record<string, AnySchema>)[String(path[index])];
      index++;
    } else if (def.type === "record" && index < path.length) {
      current = def.valueType as AnySchema;
      index++;
    } else if (def.type === "union") {
      const options = def.options as AnySchema[];
      current = options.find((o) => keysAt(o, path.slice(index)).length > 0);
    } else {
      current = (def.innerType ?? def.in ?? def.schema) as AnySchema | undefined;
    }
  }
  return [];
}

/** Renders a zod path as users write it: `queues.mailers.limit`, `cron[0].expression`. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/**
 * A union that fails reports every branch; users want the branch they meant, which is the one
 * whose complaint reaches deepest into their input (an object given where a number or an object
 * was accepted failed inside the object branch).
 */
function flattenUnions(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const out: z.core.$ZodIssue[] = [];
  for (const issue of issues) {
    if (issue.code !== "invalid_union" || issue.errors.length === 0) {
      out.push(issue);
      continue;
    }
    const depth = (branch: readonly z.core.$ZodIssue[]) =>
      Math.max(...branch.map((i) => i.path.length));
    const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
    if (depth(best) === 0) {
      out.push(issue);
      continue;
    }
    out.push(
      ...flattenUnions(
        best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as z.core.$ZodIssue),
      ),
    );
  }
  return out;
}

/**
 * Turns a zod error into a {@link ConfigError} that names the option, says what was expected,
 * and suggests the intended key for an unknown one. `prefix` leads each option path (and the
 * error's `path`); `call`, when given, leads the message only (`stop: grace: expected a
 * duration…`), for the options of one method whose paths name the option alone.
 *
 * @example
 * ```ts
 * const parsed = schema.safeParse(options);
 * if (!parsed.success) throw zodToConfigError(parsed.error, "pruner", schema);
 * ```
 */
export function zodToConfigError(
  error: z.ZodError,
  prefix: string,
  schema?: z.ZodType,
  call?: string,
): ConfigError {
  const messages: string[] = [];
  let firstPath: string | undefined;
  for (const issue of flattenUnions(error.issues)) {
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(schema as AnySchema | undefined, issue.path);
      for (const key of issue.keys) {
        const path = formatPath(prefix, [...issue.path, key]);
        const hint = closest(key, known);
        firstPath ??= path;
        messages.push(`${path}: unknown option${hint ? ` (did you mean "${hint}"?)` : ""}`);
      }
      continue;
    }
    const path = formatPath(prefix, issue.path);
    firstPath ??= path;
    messages.push(`${path}: ${issue.message}`);
  }
  const options: { path?: string; cause: unknown } = { cause: error };
  if (firstPath !== undefined) options.path = firstPath;
  const message = messages.join("; ");
  return new ConfigError(call === undefined ? message : `${call}: ${message}`, options);
}
