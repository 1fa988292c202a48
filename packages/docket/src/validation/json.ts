/**
 * How deep a JSON value docket stores (args, meta, filters) may nest: deeper values are refused
 * with an error naming the path, rather than overflowing a stack here or in PostgreSQL.
 */
export const maxJsonDepth = 100;

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why PostgreSQL cannot store `text` as text or in jsonb: a NUL character (`\u0000`) or a lone
 * UTF-16 surrogate (half of a character, e.g. a string cut in the middle of an emoji).
 * Undefined when it can.
 */
export function findUnstorableText(text: string): string | undefined {
  if (text.includes("\u0000"))
    return "holds a NUL character (\\u0000), which PostgreSQL cannot store";
  if (loneSurrogate.test(text)) {
    return "holds a lone UTF-16 surrogate (half of a character), which PostgreSQL cannot store";
  }
  return undefined;
}

/**
 * Finds the first part of a value that does not survive a trip through JSON unchanged in
 * meaning: a BigInt, a cycle, `undefined` or a function in an array, a non-finite number, a
 * symbol, nesting deeper than {@link maxJsonDepth}; with `text: true` also a string or key that
 * PostgreSQL cannot store ({@link findUnstorableText}). Returns a description of where it is, or
 * `undefined` when the value is plain JSON.
 */
export function findNonJson(
  value: unknown,
  path = "$",
  options: { text?: boolean } = {},
): string | undefined {
  return walk(value, path, new Set<object>(), 0, options.text === true);
}

function walk(
  value: unknown,
  path: string,
  seen: Set<object>,
  depth: number,
  text: boolean,
): string | undefined {
  switch (typeof value) {
    case "string": {
      const problem = text ? findUnstorableText(value) : undefined;
      return problem ? `${path} ${problem}` : undefined;
    }
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : `${path} is ${String(value)}, which JSON cannot hold`;
    case "bigint":
      return `${path} is a BigInt; pass it as a string`;
    case "undefined":
      return `${path} is undefined`;
    case "function":
    case "symbol":
      return `${path} is a ${typeof value}`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (seen.has(object)) return `${path} refers back to itself (a cycle)`;
  if (depth >= maxJsonDepth) return `${path} nests deeper than ${maxJsonDepth} levels`;
  if (object instanceof Date) {
    return Number.isNaN(object.getTime()) ? `${path} is an invalid Date` : undefined;
  }
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const found = walk(object[i], `${path}[${i}]`, seen, depth + 1, text);
        if (found) return found;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      return `${path} is a ${proto?.constructor?.name ?? "class instance"}, not a plain object`;
    }
    for (const [key, item] of Object.entries(object)) {
      if (item === undefined) continue; // JSON drops undefined properties, as users expect
      const keyProblem = text ? findUnstorableText(key) : undefined;
      if (keyProblem) return `${path} has a key that ${keyProblem}`;
      const found = walk(item, `${path}.${key}`, seen, depth + 1, text);
      if (found) return found;
    }
    return undefined;
  } finally {
    seen.delete(object);
  }
}
