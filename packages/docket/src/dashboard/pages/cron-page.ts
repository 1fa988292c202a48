import type { CronView } from "../dashboard-data.js";
import { type Html, html } from "../html.js";
import { formatTime } from "./format.js";
import type { PageContext } from "./layout.js";

/** The cron page: each entry with its schedule, last slot (and the job it inserted) and next. */
export function cronPage(context: PageContext, entries: CronView[]): Html {
  if (entries.length === 0) {
    return html`<p class="empty">No cron entries: they appear once a leader has run cron.</p>`;
  }
  const rows = entries.map(
    (e) => html`<tr>
<th scope="row">${e.name}</th><td><code>${e.expression}</code></td><td>${e.timezone}</td>
<td>${formatTime(e.lastSlot)}</td>
<td>${e.lastJobId ? html`<a href="${context.link(`/jobs/${e.lastJobId}`)}">#${e.lastJobId}</a>` : "–"}</td>
<td>${formatTime(e.nextSlot)}</td></tr>`,
  );
  return html`<div class="scroll"><table>
<thead><tr><th>entry</th><th>expression</th><th>time zone</th><th>last slot</th><th>last job</th><th>next slot</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
