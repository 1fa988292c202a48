import type { z } from "zod";

/**
 * Reading the shape of a zod schema: which keys an option set has, which maps are keyed by names
 * the user chooses, which options take code. The config file loader and the documentation test
 * walk the schema with these helpers instead of keeping a list of options, so an option added
 * to `queueOptionsSchema` is known to the TOML file, its errors and the docs test at once.
 */

type Def = { type: string } & Record<string, unknown>;

/**
 * A schema's definition through zod 4's public `.def` (typed per schema class; read here as a
 * plain record because the walk handles every kind of schema).
 */
function defOf(schema: z.ZodType): Def {
  return schema.def as unknown as Def;
}

/** A schema reduced to what matters for the shape of the input it accepts. */
export type Shape =
  | { kind: "object"; shape: Record<string, z.ZodType>; strict: boolean }
  | { kind: "record"; value: z.ZodType }
  | { kind: "array"; element: z.ZodType }
  | { kind: "union"; options: z.ZodType[] }
  | { kind: "leaf"; type: string };

/**
 * Looks through the wrappers that do not change the shape of the input (optional, default,
 * nullable, lazy, the input side of a pipe or transform) and says what is left.
 */
export function shapeOf(schema: z.ZodType): Shape {
  let current = schema;
  for (let guard = 0; guard < 100; guard++) {
    const def = defOf(current);
    switch (def.type) {
      case "object": {
        const catchall = def.catchall as z.ZodType | undefined;
        const strict = catchall !== undefined && defOf(catchall).type === "never";
        return { kind: "object", shape: def.shape as Record<string, z.ZodType>, strict };
      }
      case "record":
        return { kind: "record", value: def.valueType as z.ZodType };
      case "array":
        return { kind: "array", element: def.element as z.ZodType };
      case "union":
        return { kind: "union", options: def.options as z.ZodType[] };
      case "intersection": {
        const left = shapeOf(def.left as z.ZodType);
        const right = shapeOf(def.right as z.ZodType);
        if (left.kind === "object" && right.kind === "object") {
          return {
            kind: "object",
            shape: { ...left.shape, ...right.shape },
            strict: left.strict || right.strict,
          };
        }
        return { kind: "leaf", type: "intersection" };
      }
      case "lazy":
        current = (def.getter as () => z.ZodType)();
        break;
      case "pipe": {
        // z.preprocess() puts a bare transform first: its output schema describes the input.
        const input = def.in as z.ZodType;
        current = defOf(input).type === "transform" ? (def.out as z.ZodType) : input;
        break;
      }
      default:
        if (def.innerType) current = def.innerType as z.ZodType;
        else return { kind: "leaf", type: def.type };
    }
  }
  return { kind: "leaf", type: "unknown" };
}

/** The object, record and array shapes a schema allows, looking through unions. */
export function containerShapes(schema: z.ZodType): Exclude<Shape, { kind: "union" | "leaf" }>[] {
  const shape = shapeOf(schema);
  if (shape.kind === "union") return shape.options.flatMap(containerShapes);
  if (shape.kind === "leaf") return [];
  return [shape];
}

/**
 * Tells whether an option only takes JavaScript values (workers, a logger, plugins, an sql
 * instance): such options cannot come from a config file or the environment.
 */
export function takesCode(schema: z.ZodType): boolean {
  const shape = shapeOf(schema);
  switch (shape.kind) {
    case "leaf":
      return shape.type === "custom" || shape.type === "function";
    case "array":
      return takesCode(shape.element);
    case "union":
      return shape.options.every((option) => takesCode(option) || isLiteral(option));
    default:
      return false;
  }
}

function isLiteral(schema: z.ZodType): boolean {
  const shape = shapeOf(schema);
  return shape.kind === "leaf" && shape.type === "literal";
}

/** How a path segment relates to its parent: an option's key, a user-chosen name, or an index. */
export type SegmentKind = "key" | "name" | "index";

/**
 * Follows one segment of a data path (`["pruner", "maxAge"]`, `["queues", "mailers"]`,
 * `["cron", 0]`) into the schema, saying what kind of segment it was.
 */
export function childOf(
  schema: z.ZodType | undefined,
  segment: PropertyKey,
): { schema: z.ZodType | undefined; kind: SegmentKind } {
  if (schema === undefined)
    return { schema: undefined, kind: typeof segment === "number" ? "index" : "key" };
  const shapes = containerShapes(schema);
  if (typeof segment === "number") {
    const array = shapes.find((s) => s.kind === "array");
    return { schema: array?.kind === "array" ? array.element : undefined, kind: "index" };
  }
  const key = String(segment);
  for (const shape of shapes) {
    if (shape.kind === "object" && Object.hasOwn(shape.shape, key)) {
      return { schema: shape.shape[key], kind: "key" };
    }
  }
  const record = shapes.find((s) => s.kind === "record");
  if (record?.kind === "record") return { schema: record.value, kind: "name" };
  return { schema: undefined, kind: "key" };
}

/** The keys of the object shapes of a schema at a data path, for "did you mean" suggestions. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) current = childOf(current, segment).schema;
  if (current === undefined) return [];
  return containerShapes(current).flatMap((s) => (s.kind === "object" ? Object.keys(s.shape) : []));
}

/** One option of a schema, for documentation: `pruner.maxAge`, `queues.<name>.limit`, `cron[].worker`. */
export interface OptionPath {
  /** Segments: option keys, `"<name>"` for a user-chosen name, `"[]"` for an array item. */
  segments: string[];
  /** True when the option takes JavaScript values and cannot be set in a file. */
  code: boolean;
}

/** Every option of a schema, nested object keys included, parents before children. */
export function listOptions(schema: z.ZodType, prefix: string[] = [], depth = 0): OptionPath[] {
  if (depth > 10) return [];
  const out: OptionPath[] = [];
  const seen = new Set<string>();
  const add = (option: OptionPath) => {
    const key = option.segments.join("\u0000");
    if (!seen.has(key)) {
      seen.add(key);
      out.push(option);
    }
  };
  for (const shape of containerShapes(schema)) {
    if (shape.kind === "object") {
      for (const [key, child] of Object.entries(shape.shape)) {
        const segments = [...prefix, key];
        add({ segments, code: takesCode(child) });
        for (const nested of listOptions(child, segments, depth + 1)) add(nested);
      }
    } else if (shape.kind === "record") {
      const segments = [...prefix, "<name>"];
      if (containerShapes(shape.value).length > 0) {
        add({ segments, code: takesCode(shape.value) });
        for (const nested of listOptions(shape.value, segments, depth + 1)) add(nested);
      }
    } else if (!takesCode(shape.element)) {
      for (const nested of listOptions(shape.element, [...prefix, "[]"], depth + 1)) add(nested);
    }
  }
  return out;
}
