/**
 * HTML built from tagged templates: every interpolated value is escaped unless it is already
 * {@link Html} (a fragment built the same way), so no text from the database reaches a page raw.
 */

/** A fragment of HTML that is safe to interpolate as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const escapes: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for use in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => escapes[c] ?? c);
}

type Part = Html | string | number | bigint | boolean | null | undefined | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return "";
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join("");
  return escapeHtml(String(part));
}

/**
 * Builds an {@link Html} fragment; arrays are joined, `null`/`undefined`/`false` render nothing.
 *
 * @example
 * ```ts
 * const row = html`<td>${job.worker}</td>`; // the worker name is escaped
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new Html(out);
}

/** JSON pretty-printed for a `<pre>` block. */
export function jsonBlock(value: unknown): Html {
  return html`<pre class="json">${JSON.stringify(value, null, 2) ?? "null"}</pre>`;
}
