import type { z } from "zod";
import { closest } from "../validation/zod-errors.js";
import { childOf, containerShapes, type Shape, takesCode } from "./schema-walk.js";

/**
 * The config file spells options in snake_case (`max_age`), the constructor in camelCase
 * (`maxAge`). The mapping is read off the schema, not listed: a key of an object schema is an
 * option and is converted; a key of a record schema (a queue name, a cleanup target name) is
 * the user's and is kept; values under anything else (job args, say) are left alone.
 */

/** `maxAgeByState` → `max_age_by_state`. */
export function camelToSnake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** A problem found while converting the file, with its path as written in the file. */
export interface FileIssue {
  path: PropertyKey[];
  message: string;
}

/** Plain objects, including the null-prototype tables the TOML parser returns. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

type ObjectShape = Extract<Shape, { kind: "object" }>;

/** The object shape of a union that fits a table best: the one that knows most of its keys. */
function bestObject(
  shapes: ObjectShape[],
  table: Record<string, unknown>,
): ObjectShape | undefined {
  let best: ObjectShape | undefined;
  let bestScore = -1;
  for (const shape of shapes) {
    const known = new Set(Object.keys(shape.shape).map(camelToSnake));
    const score = Object.keys(table).filter((key) => known.has(key)).length;
    if (score > bestScore) {
      best = shape;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Converts a parsed TOML value to constructor form, guided by `schema`. Unknown keys and keys
 * that take code are collected in `issues` (with the path as the user wrote it) and dropped;
 * type errors are left for the schema to report.
 */
export function tomlToOptions(
  value: unknown,
  schema: z.ZodType | undefined,
  issues: FileIssue[],
  path: PropertyKey[] = [],
): unknown {
  if (schema === undefined) return value;
  const shapes = containerShapes(schema);
  if (Array.isArray(value)) {
    const array = shapes.find((s) => s.kind === "array");
    if (array?.kind !== "array") return value;
    return value.map((item, i) => tomlToOptions(item, array.element, issues, [...path, i]));
  }
  if (!isPlainObject(value)) return value;
  const object = bestObject(
    shapes.filter((s): s is ObjectShape => s.kind === "object"),
    value,
  );
  const out: Record<string, unknown> = {};
  if (object) {
    const bySnake = new Map(Object.keys(object.shape).map((key) => [camelToSnake(key), key]));
    for (const [key, item] of Object.entries(value)) {
      const camel = bySnake.get(key);
      if (camel === undefined) {
        if (!object.strict) out[key] = item;
        else
          issues.push({
            path: [...path, key],
            message: unknownKeyMessage(key, [...bySnake.keys()]),
          });
        continue;
      }
      const child = object.shape[camel] as z.ZodType;
      if (takesCode(child)) {
        issues.push({ path: [...path, key], message: codeOnlyMessage(camel) });
        continue;
      }
      out[camel] = tomlToOptions(item, child, issues, [...path, key]);
    }
    return out;
  }
  const record = shapes.find((s) => s.kind === "record");
  if (record?.kind !== "record") return value;
  for (const [name, item] of Object.entries(value)) {
    out[name] = tomlToOptions(item, record.value, issues, [...path, name]);
  }
  return out;
}

/** `unknown option (did you mean "max_age"?)`. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hint = closest(key, known);
  return `unknown option${hint ? ` (did you mean "${hint}"?)` : ""}`;
}

function codeOnlyMessage(camel: string): string {
  const where = `pass it in code: Queue.fromConfig(path, { ${camel}: ... })`;
  return camel === "workers"
    ? `takes JavaScript values, so it cannot be set in a config file; list the files that export your workers in "modules" (read by the docket command), or ${where}`
    : `takes JavaScript values, so it cannot be set in a config file; ${where}`;
}

/**
 * Renders a data path as the user wrote it: `pruner.max_age` for the file (`style: "file"`),
 * `pruner.maxAge` for the constructor. User-chosen names are kept as they are.
 */
export function renderPath(
  schema: z.ZodType,
  path: readonly PropertyKey[],
  style: "file" | "code",
): string {
  let out = "";
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    const child = childOf(current, segment);
    current = child.schema;
    if (typeof segment === "number") {
      out += `[${segment}]`;
      continue;
    }
    const text =
      style === "file" && child.kind === "key" ? camelToSnake(String(segment)) : String(segment);
    out += out ? `.${text}` : text;
  }
  return out;
}

/** Renders a path whose segments are already as the user wrote them. */
export function joinPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out;
}
