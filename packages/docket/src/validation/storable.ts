/**
 * What PostgreSQL cannot hold, made storable. `text` and `jsonb` refuse the NUL character
 * (U+0000) and a UTF-16 surrogate without its pair (SQLSTATE 22P05, 22021, 22P02): an outcome
 * holding one would be refused after the work is done. The NUL becomes the six characters
 * `\u0000`, a lone surrogate becomes U+FFFD, and long texts are cut with a marker.
 */

/** Longest error message stored with an attempt, in UTF-16 code units. */
export const maxErrorMessageLength = 8_192;
/** Longest stack trace stored with an attempt, in UTF-16 code units. */
export const maxErrorStackLength = 16_384;
/** Largest result kept in `meta.result`, as the length of its JSON text. */
export const maxResultLength = 1_048_576;
/** How much of a result too large to keep is stored in its place, as JSON text. */
export const resultPreviewLength = 1_024;

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the NUL is what this looks for
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const unstorableTest = new RegExp(unstorable.source);

/**
 * Returns `text` with every NUL written as `\u0000` and every lone surrogate replaced by U+FFFD,
 * or `text` itself when it holds neither (the common case: no copy).
 *
 * @example
 * ```ts
 * storableText("a\u0000b") // "a\\u0000b"
 * ```
 */
export function storableText(text: string): string {
  if (!unstorableTest.test(text)) return text;
  return text.replace(unstorable, (c) => (c === "\u0000" ? "\\u0000" : "\ufffd"));
}

/**
 * Cuts `text` to at most `max` code units, ending with a marker that says how much was left
 * out; never splits a surrogate pair. Returns `text` itself when it fits.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = `… [truncated: ${text.length - max} more characters]`;
  let end = Math.max(0, max - marker.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}

/** Text made storable (see {@link storableText}) and cut to `max` code units. */
export function storableLimitedText(text: string, max: number): string {
  return truncateText(storableText(text), max);
}

/**
 * Returns a JSON value with every string and key made storable (see {@link storableText}),
 * and the length of its JSON text, counted as it is walked. Unchanged parts are shared; a value
 * that needs no change is returned as is.
 */
export function storableJson(value: unknown): { value: unknown; length: number } {
  switch (typeof value) {
    case "string": {
      const text = storableText(value);
      return { value: text, length: text.length + 2 };
    }
    case "number":
    case "boolean":
      return { value, length: String(value).length };
  }
  if (value === null || typeof value !== "object") return { value, length: 4 };
  if (value instanceof Date) return { value, length: 26 };
  if (Array.isArray(value)) {
    let length = 2;
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = storableJson(value[i]);
      length += item.length + 1;
      if (item.value !== value[i]) {
        copy ??= value.slice();
        copy[i] = item.value;
      }
    }
    return { value: copy ?? value, length: value.length > 0 ? length - 1 : length };
  }
  let length = 2;
  let count = 0;
  let copy: Record<string, unknown> | undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [key, item] of entries) {
    if (item === undefined) continue;
    const storedKey = storableText(key);
    const stored = storableJson(item);
    length += storedKey.length + 3 + stored.length + 1;
    count++;
    if (storedKey !== key || stored.value !== item) {
      copy ??= Object.fromEntries(entries);
      if (storedKey !== key) delete copy[key];
      copy[storedKey] = stored.value;
    }
  }
  return { value: copy ?? value, length: count > 0 ? length - 1 : length };
}

/** What is kept in place of a result too large to store (see {@link storableResult}). */
export interface TruncatedResult {
  truncated: true;
  /** Length of the result's JSON text. */
  length: number;
  /** The first {@link resultPreviewLength} characters of that text. */
  preview: string;
}

/**
 * A job's result as it is stored: made storable, and replaced by a {@link TruncatedResult}
 * marker when its JSON text is longer than {@link maxResultLength}.
 */
export function storableResult(result: unknown): unknown {
  const { value, length } = storableJson(result);
  if (length <= maxResultLength) return value;
  const preview = truncateText(JSON.stringify(value), resultPreviewLength);
  const marker: TruncatedResult = { truncated: true, length, preview };
  return marker;
}
