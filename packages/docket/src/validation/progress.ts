import { ProgressError } from "../errors.js";
import type { JsonValue } from "../types.js";
import { findNonJson } from "./json.js";

/** Largest progress value stored, as the UTF-8 bytes of its JSON text. */
export const maxProgressBytes = 4096;

/**
 * What `progress()` in `perform` takes: a percentage (a number from 0 to 100) or a small JSON
 * value such as `{ done: 120, total: 400 }` or `"uploading"`.
 */
export type ProgressValue = JsonValue;

/** A progress value as it is stored and sent: a copy of what was given, and its JSON text. */
export interface CheckedProgress {
  value: JsonValue;
  json: string;
}

/**
 * Checks a value given to `progress()` and returns a copy of it with its JSON text (a copy, so
 * that changing the object afterwards does not change what is stored).
 *
 * @throws ProgressError naming what is wrong: a number outside 0–100, a value JSON cannot hold,
 * a NUL or a lone surrogate in a text, more than {@link maxProgressBytes} bytes of JSON.
 *
 * @example
 * ```ts
 * checkProgress(42).json;                     // "42"
 * checkProgress({ done: 3, total: 10 }).value; // { done: 3, total: 10 }
 * ```
 */
export function checkProgress(value: unknown): CheckedProgress {
  if (typeof value === "number") {
    if (!(value >= 0 && value <= 100)) {
      throw new ProgressError(
        `progress: a number must be a percentage from 0 to 100, got ${String(value)}`,
      );
    }
    return { value, json: String(value) };
  }
  if (value === undefined) {
    throw new ProgressError(
      "progress: expected a number from 0 to 100 or a JSON value, got undefined",
    );
  }
  const problem = findNonJson(value, "progress", { text: true });
  if (problem) throw new ProgressError(`progress: ${problem}`);
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > maxProgressBytes) {
    throw new ProgressError(
      `progress: the value is ${bytes} bytes of JSON, more than the ${maxProgressBytes} allowed; report a summary (counts, a stage name), not the data`,
    );
  }
  return {
    value: typeof value === "object" ? (JSON.parse(json) as JsonValue) : (value as JsonValue),
    json,
  };
}
