import type { StandardSchemaV1 } from "@standard-schema/spec";

/**
 * A schema for a worker's args: any [Standard Schema](https://standardschema.dev) (zod 3.24+
 * and 4, valibot, arktype, effect…). `Input` is what `insert` takes, `Output` what `perform`
 * receives in `job.args`.
 *
 * @example
 * ```ts
 * const args: ArgsSchema<{ to: string; cc?: string[] }, { to: string; cc: string[] }> =
 *   z.object({ to: z.string(), cc: z.array(z.string()).default([]) });
 * ```
 */
export type ArgsSchema<Input = unknown, Output = Input> = StandardSchemaV1<Input, Output>;

/** What checking a value against a schema gives: the value it returns, or its issues. */
export type ArgsResult = StandardSchemaV1.Result<unknown>;

/**
 * Tells whether a value is a Standard Schema (version 1): an object or function with a
 * `~standard` property holding a `validate` function. Works across copies and libraries, which
 * an `instanceof` check does not.
 *
 * @example
 * ```ts
 * isArgsSchema(z.object({})); // true
 * isArgsSchema({ parse() {} }); // false
 * ```
 */
export function isArgsSchema(value: unknown): value is ArgsSchema {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const standard = (value as { "~standard"?: Partial<StandardSchemaV1.Props> })["~standard"];
  return (
    typeof standard === "object" &&
    standard !== null &&
    standard.version === 1 &&
    typeof standard.validate === "function"
  );
}

/**
 * Checks `value` against `schema`. Synchronous schemas (zod, valibot and arktype without async
 * refinements) answer at once; an async one answers with a promise, which the caller awaits.
 */
export function validateArgs(schema: ArgsSchema, value: unknown): ArgsResult | Promise<ArgsResult> {
  return schema["~standard"].validate(value);
}

/** The issues of a failed check as `field: message; field: message`, `(args)` for the root. */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  return issues
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((segment) => String(typeof segment === "object" ? segment.key : segment))
        .join(".");
      return `${path || "(args)"}: ${issue.message}`;
    })
    .join("; ");
}
