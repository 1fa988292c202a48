/**
 * Finds the first part of a value that does not survive a trip through JSON unchanged in
 * meaning: a BigInt, a cycle, `undefined` or a function in an array, a non-finite number, a
 * symbol. Returns a description of where it is, or `undefined` when the value is plain JSON.
 */
export function findNonJson(
  value: unknown,
  path = "$",
  seen = new Set<object>(),
): string | undefined {
  switch (typeof value) {
    case "string":
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
  if (object instanceof Date) {
    return Number.isNaN(object.getTime()) ? `${path} is an invalid Date` : undefined;
  }
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const found = findNonJson(object[i], `${path}[${i}]`, seen);
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
      const found = findNonJson(item, `${path}.${key}`, seen);
      if (found) return found;
    }
    return undefined;
  } finally {
    seen.delete(object);
  }
}
