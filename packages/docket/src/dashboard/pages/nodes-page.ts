import type { NodeView } from "../dashboard-data.js";
import { type Html, html } from "../html.js";
import { formatDuration, formatTime } from "./format.js";
import type { PageContext } from "./layout.js";

/** The nodes page: each node's queues, heartbeat age and whether it leads. */
export function nodesPage(_context: PageContext, nodes: NodeView[]): Html {
  if (nodes.length === 0) return html`<p class="empty">No node is running queues.</p>`;
  const rows = nodes.map(
    (n) => html`<tr data-node="${n.node}">
<th scope="row">${n.node}${n.leader ? html` <span class="badge">leader</span>` : ""}</th>
<td>${n.alive ? html`<span class="ok">alive</span>` : html`<span class="badge warn">gone</span>`}</td>
<td class="num">${formatDuration(n.heartbeatAgeMs)}</td>
<td>${formatTime(n.startedAt)}</td>
<td>${n.queues.map((q) => html`<span class="chip">${q.queue} × ${q.concurrency}</span> `)}</td></tr>`,
  );
  return html`<div class="scroll"><table>
<thead><tr><th>node</th><th>status</th><th class="num">heartbeat age</th><th>started</th><th>queues</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
