import type { Job } from "../../types.js";
import { type Html, html } from "../html.js";

/** Longest text shown for a progress value that is not a percentage, in characters. */
const shownLength = 80;

/**
 * A job's last reported progress (`meta.progress`), or nothing when it reported none: a bar and
 * the percentage for a number, the JSON text (cut to a line) for any other value. A native
 * `<progress>`, as the Content-Security-Policy allows no inline style for a drawn bar.
 */
export function progressView(job: Job): Html {
  const value = job.meta.progress;
  if (value === undefined) return html``;
  if (typeof value === "number" && value >= 0 && value <= 100) {
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(1);
    return html`<span class="progress" data-progress="${shown}"><progress max="100" value="${value}" aria-label="progress ${shown}%"></progress> ${shown}%</span>`;
  }
  let text = JSON.stringify(value) ?? "null";
  if (text.length > shownLength) text = `${text.slice(0, shownLength - 1)}…`;
  return html`<span class="progress" data-progress="${text}"><code>${text}</code></span>`;
}
