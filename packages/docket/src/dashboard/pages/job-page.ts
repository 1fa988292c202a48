import type { Job } from "../../types.js";
import { type Html, html, jsonBlock } from "../html.js";
import { formatTime } from "./format.js";
import type { PageContext } from "./layout.js";
import { progressView } from "./progress.js";

function actions(context: PageContext, job: Job): Html {
  if (context.readOnly) return html``;
  const base = `/jobs/${job.id}`;
  const finished = ["completed", "discarded", "cancelled"].includes(job.state);
  const button = (action: string, label: string, confirm?: string) =>
    html`<form method="post" action="${context.link(`${base}/${action}`)}"${confirm ? html` data-confirm="${confirm}"` : ""}><button${action === "delete" ? html` class="danger"` : ""}>${label}</button></form>`;
  return html`<div class="actions">
${job.state !== "available" && job.state !== "executing" ? button("retry", "Retry") : ""}
${finished ? "" : button("cancel", "Cancel", `Cancel job ${job.id}?`)}
${job.state === "executing" ? "" : button("delete", "Delete", `Delete job ${job.id}? This cannot be undone.`)}
</div>`;
}

/** A job's page: its fields, args and meta, every attempt's error and the actions. */
export function jobPage(context: PageContext, job: Job): Html {
  const timeline: [string, Date | null][] = [
    ["inserted", job.insertedAt],
    ["scheduled", job.scheduledAt],
    ["attempted", job.attemptedAt],
    ["completed", job.completedAt],
    ["cancelled", job.cancelledAt],
    ["discarded", job.discardedAt],
  ];
  const errors =
    job.errors.length === 0
      ? html`<p class="muted">No errors.</p>`
      : html`<ol class="errors">${job.errors.map(
          (e) => html`<li><p><strong>attempt ${e.attempt}</strong> · ${e.at}</p>
<pre class="error">${e.error}</pre>${e.stack ? html`<details><summary>stack</summary><pre>${e.stack}</pre></details>` : ""}</li>`,
        )}</ol>`;
  return html`${actions(context, job)}
<dl class="fields">
<dt>state</dt><dd><span class="state ${job.state}">${job.state}</span></dd>
<dt>worker</dt><dd>${job.worker}</dd><dt>queue</dt><dd>${job.queue}</dd>
<dt>attempt</dt><dd>${job.attempt} of ${job.maxAttempts}</dd><dt>priority</dt><dd>${job.priority}</dd>
<dt>node</dt><dd>${job.attemptedBy ?? "–"}</dd>
${job.meta.progress === undefined ? "" : html`<dt>progress</dt><dd>${progressView(job)}</dd>`}
<dt>tags</dt><dd>${job.tags.length === 0 ? "–" : job.tags.map((t) => html`<span class="chip">${t}</span> `)}</dd>
</dl>
<h2>Timeline</h2>
<ol class="timeline">${timeline
    .filter(([, at]) => at !== null)
    .sort((a, b) => (a[1] as Date).getTime() - (b[1] as Date).getTime())
    .map(([label, at]) => html`<li><span>${label}</span> ${formatTime(at)}</li>`)}</ol>
<h2>Args</h2>${jsonBlock(job.args)}
<h2>Meta</h2>${jsonBlock(job.meta)}
<h2>Errors</h2>${errors}`;
}
