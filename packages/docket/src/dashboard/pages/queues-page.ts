import { jobStates } from "../../types.js";
import type { QueueView } from "../dashboard-data.js";
import { type Html, html } from "../html.js";
import { formatCount, formatDuration } from "./format.js";
import type { PageContext } from "./layout.js";

function queueActions(context: PageContext, queue: QueueView): Html {
  if (context.readOnly) return html``;
  const base = `/queues/${encodeURIComponent(queue.name)}`;
  const toggle = queue.paused
    ? html`<form method="post" action="${context.link(`${base}/resume`)}"><button>Resume</button></form>`
    : html`<form method="post" action="${context.link(`${base}/pause`)}"><button>Pause</button></form>`;
  return html`<div class="actions">${toggle}
<form method="post" action="${context.link(`${base}/scale`)}" class="scale">
<input name="limit" type="number" min="1" max="10000" required aria-label="limit of ${queue.name}" placeholder="limit" value="${queue.storedLimit ?? ""}">
<button>Scale</button></form></div>`;
}

function nodesCell(queue: QueueView): Html {
  if (queue.nodes.length === 0) return html`<span class="muted">none</span>`;
  return html`<ul class="plain">${queue.nodes.map(
    (n) =>
      html`<li><span class="node">${n.node}</span> ${n.executing}${n.limit === null ? "" : html` / ${n.limit}`}</li>`,
  )}</ul>`;
}

/** The queues page: jobs per state, oldest wait, paused, limit and executing per node. */
export function queuesPage(context: PageContext, queues: QueueView[], charts: Html): Html {
  if (queues.length === 0) {
    return html`<p class="empty">No queues yet: insert a job or start a node.</p>${charts}`;
  }
  const head = jobStates.map((s) => html`<th class="num">${s}</th>`);
  const rows = queues.map((q) => {
    const counts = jobStates.map((state) => {
      const shown = q.counts[state];
      const href = context.link(
        `/jobs?${new URLSearchParams({ queue: q.name, state }).toString()}`,
      );
      const zero = shown.count === 0 ? html` class="zero"` : "";
      return html`<td class="num" data-state="${state}" data-label="${state}"><a href="${href}"${zero}${shown.estimated ? html` title="estimated"` : ""}>${formatCount(shown)}</a></td>`;
    });
    return html`<tr data-queue="${q.name}">
<th scope="row"><a href="${context.link(`/jobs?${new URLSearchParams({ queue: q.name })}`)}">${q.name}</a></th>
${counts}
<td class="num" data-label="oldest wait">${formatDuration(q.oldestAvailableAgeMs)}</td>
<td data-label="status">${q.paused ? html`<span class="badge warn">paused</span>` : html`<span class="muted">running</span>`}</td>
<td class="num" data-label="limit">${q.storedLimit ?? html`<span class="muted" title="each node's configured limit">–</span>`}</td>
<td data-label="executing per node">${nodesCell(q)}</td>
<td class="row-actions">${queueActions(context, q)}</td>
</tr>`;
  });
  return html`<div class="scroll"><table class="queues">
<thead><tr><th>queue</th>${head}<th class="num">oldest wait</th><th>status</th><th class="num">limit</th><th>executing per node</th><th></th></tr></thead>
<tbody>${rows}</tbody></table></div>
${charts}`;
}
