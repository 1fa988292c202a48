import type { JobStats } from "../../observability/job-stats.js";
import { type Html, html } from "../html.js";

/**
 * The queues page's charts, drawn as inline SVG from the per-minute history (`queue.stats()`),
 * so they show the whole cluster from any process and need no script: finished jobs per minute
 * by outcome, and the p95 execution time per minute.
 */

const minuteMs = 60_000;
const width = 600;
const height = 140;
const outcomes = ["completed", "discarded", "cancelled"] as const;

interface Minute {
  counts: Record<(typeof outcomes)[number], number>;
  /** The largest p95 among the minute's rows (a bound, not a merged percentile). */
  execP95Ms: number | null;
}

/** The last `minutes` minutes before `now`, oldest first, each summed over queues and workers. */
function minutesOf(rows: readonly JobStats[], now: number, minutes: number): Minute[] {
  const first = Math.floor(now / minuteMs) * minuteMs - (minutes - 1) * minuteMs;
  const slots: Minute[] = Array.from({ length: minutes }, () => ({
    counts: { completed: 0, discarded: 0, cancelled: 0 },
    execP95Ms: null,
  }));
  for (const row of rows) {
    const index = Math.floor((+row.at - first) / minuteMs);
    const slot = slots[index];
    if (!slot) continue;
    slot.counts[row.outcome] += row.count;
    if (row.execP95Ms !== null) slot.execP95Ms = Math.max(slot.execP95Ms ?? 0, row.execP95Ms);
  }
  return slots;
}

function bars(slots: readonly Minute[]): Html {
  const most = Math.max(1, ...slots.map((s) => outcomes.reduce((n, o) => n + s.counts[o], 0)));
  const step = width / slots.length;
  const rects = slots.flatMap((slot, i) => {
    let y = height;
    return outcomes.map((outcome) => {
      const h = (slot.counts[outcome] / most) * height;
      y -= h;
      if (h === 0) return html``;
      return html`<rect x="${(i * step).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, step - 1).toFixed(1)}" height="${h.toFixed(1)}" class="${outcome}"><title>${slot.counts[outcome]} ${outcome}</title></rect>`;
    });
  });
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="finished jobs per minute, at most ${most}">${rects}</svg>`;
}

function line(slots: readonly Minute[]): Html {
  const most = Math.max(1, ...slots.map((s) => s.execP95Ms ?? 0));
  const step = width / Math.max(1, slots.length - 1);
  const points = slots
    .map((s, i) =>
      s.execP95Ms === null
        ? null
        : `${(i * step).toFixed(1)},${(height - (s.execP95Ms / most) * height).toFixed(1)}`,
    )
    .filter((p) => p !== null)
    .join(" ");
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="p95 execution time per minute, at most ${Math.round(most)} ms"><polyline points="${points}" class="p95"/></svg>`;
}

/** The charts of the last hour, or a line saying why there are none. */
export function statsCharts(rows: readonly JobStats[] | null, now: number): Html {
  if (rows === null) {
    return html`<p class="muted">History is off or not readable (<code>stats</code> option, migration 0008).</p>`;
  }
  const slots = minutesOf(rows, now, 60);
  const total = slots.reduce((n, s) => n + outcomes.reduce((m, o) => m + s.counts[o], 0), 0);
  const legend = outcomes.map((o) => html`<span><i class="${o}"></i>${o}</span>`);
  const most = Math.round(Math.max(0, ...slots.map((s) => s.execP95Ms ?? 0)));
  return html`<div class="charts" data-charts>
<section class="chart"><h3>Finished per minute, last hour (${total.toLocaleString("en")})</h3>${bars(slots)}<div class="legend">${legend}</div></section>
<section class="chart"><h3>Execution time p95 per minute (peak ${most.toLocaleString("en")} ms)</h3>${line(slots)}</section>
</div>`;
}
