import type { JobPage } from "../../admin/admin.js";
import { type Job, jobStates } from "../../types.js";
import type { ShownCount } from "../dashboard-data.js";
import { type Html, html } from "../html.js";
import { filterParams, isEmptyFilter, type PageFilter } from "../job-filter.js";
import { formatCount, formatTime } from "./format.js";
import type { PageContext } from "./layout.js";
import { progressView } from "./progress.js";

function hidden(params: URLSearchParams): Html[] {
  return [...params].map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
}

function tabs(context: PageContext, filter: PageFilter): Html {
  const all = [undefined, ...jobStates];
  return html`<nav class="tabs" aria-label="states">${all.map((state) => {
    const href = context.link(`/jobs?${filterParams(filter, { state })}`);
    const current = state === filter.state;
    return html`<a href="${href}"${current ? html` aria-current="page"` : ""}>${state ?? "all"}</a>`;
  })}</nav>`;
}

function filterForm(context: PageContext, filter: PageFilter): Html {
  const pair = (name: "args" | "meta") =>
    filter[name].length === 0
      ? html`<input name="${name}" placeholder="${name}: key=value" aria-label="${name}">`
      : filter[name].map(
          ([k, v]) => html`<input name="${name}" value="${`${k}=${v}`}" aria-label="${name}">`,
        );
  return html`<form method="get" action="${context.link("/jobs")}" class="filters">
${filter.state ? html`<input type="hidden" name="state" value="${filter.state}">` : ""}
<input name="queue" placeholder="queue" value="${filter.queue ?? ""}" aria-label="queue">
<input name="worker" placeholder="worker" value="${filter.worker ?? ""}" aria-label="worker">
<input name="tag" placeholder="tag" value="${filter.tag ?? ""}" aria-label="tag">
<input name="id" placeholder="id" value="${filter.id ?? ""}" aria-label="id" inputmode="numeric">
${pair("args")}${pair("meta")}
<button>Filter</button>
<a href="${context.link(filter.state ? `/jobs?state=${filter.state}` : "/jobs")}">clear</a>
</form>`;
}

function row(context: PageContext, job: Job): Html {
  const at = job.completedAt ?? job.discardedAt ?? job.cancelledAt ?? job.attemptedAt;
  return html`<tr data-job="${job.id}" data-state="${job.state}">
${context.readOnly ? "" : html`<td><input type="checkbox" name="ids" value="${job.id}" form="selection" aria-label="select job ${job.id}"></td>`}
<td class="num"><a href="${context.link(`/jobs/${job.id}`)}">${job.id}</a></td>
<td><span class="state ${job.state}">${job.state}</span>${job.state === "executing" ? html` ${progressView(job)}` : ""}</td>
<td>${job.worker}</td><td>${job.queue}</td>
<td class="num">${job.attempt}/${job.maxAttempts}</td>
<td>${formatTime(job.scheduledAt)}</td><td>${formatTime(at)}</td>
<td>${job.tags.map((t) => html`<span class="chip">${t}</span> `)}</td></tr>`;
}

function bulkForms(context: PageContext, filter: PageFilter, total: ShownCount): Html {
  if (context.readOnly) return html``;
  const params = filterParams(filter);
  const matching = isEmptyFilter(filter)
    ? html`<span class="muted">Filter first to act on every matching job.</span>`
    : html`<form method="get" action="${context.link("/bulk")}" class="inline">${hidden(params)}
<span>All ${formatCount(total)} matching:</span>
<button name="action" value="retry">Retry…</button>
<button name="action" value="cancel">Cancel…</button>
<button name="action" value="delete" class="danger">Delete…</button></form>`;
  return html`<div class="bulk">
<form method="post" action="${context.link("/jobs/selected")}" id="selection" class="inline" data-confirm="Apply to the selected jobs?">
<span>Selected:</span>
<button name="action" value="retry">Retry</button>
<button name="action" value="cancel">Cancel</button>
<button name="action" value="delete" class="danger">Delete</button></form>
${matching}</div>`;
}

/** The jobs page: state tabs, filters, a page of jobs (newest first) and bulk actions. */
export function jobsPage(
  context: PageContext,
  filter: PageFilter,
  result: { page: JobPage; total: ShownCount },
): Html {
  const { page, total } = result;
  const table =
    page.jobs.length === 0
      ? html`<p class="empty">No jobs match.</p>`
      : html`<div class="scroll"><table class="jobs">
<thead><tr>${context.readOnly ? "" : html`<th><input type="checkbox" data-select-all aria-label="select all"></th>`}<th class="num">id</th><th>state</th><th>worker</th><th>queue</th><th class="num">attempt</th><th>scheduled</th><th>last change</th><th>tags</th></tr></thead>
<tbody>${page.jobs.map((job) => row(context, job))}</tbody></table></div>`;
  const next = page.next
    ? html`<a class="next" href="${context.link(`/jobs?${filterParams(filter, { after: page.next })}`)}">Older jobs →</a>`
    : "";
  return html`${tabs(context, filter)}${filterForm(context, filter)}
<p class="total">${formatCount(total)} matching</p>
${bulkForms(context, filter, total)}${table}${next}`;
}

/** The page that asks before a bulk action on every job matching a filter. */
export function confirmBulkPage(
  context: PageContext,
  action: "retry" | "cancel" | "delete",
  filter: PageFilter,
  description: string,
  count: { count: number; exact: boolean },
): Html {
  const params = filterParams(filter);
  params.set("action", action);
  params.set("expected", String(count.count));
  const back = context.link(`/jobs?${filterParams(filter)}`);
  const amount = `${count.exact ? "" : "at least "}${count.count.toLocaleString("en-US")}`;
  return html`<p class="confirm">${action[0]?.toUpperCase()}${action.slice(1)} <strong>${amount}</strong> jobs matching <em>${description}</em>?
Jobs that cannot be ${action === "retry" ? "retried" : action === "cancel" ? "cancelled" : "deleted"} in their state are left as they are.</p>
<form method="post" action="${context.link("/bulk")}" class="inline">${hidden(params)}
<button class="${action === "delete" ? "danger" : ""}">${action[0]?.toUpperCase()}${action.slice(1)} ${amount} jobs</button>
<a href="${back}">Back</a></form>`;
}
