/**
 * The dashboard's stylesheet and script, shipped inside the package as they are: no build step
 * for users, and nothing inline in the pages (the Content-Security-Policy allows only these).
 */

/** The stylesheet, served at `assets/dashboard.css`. */
export const dashboardCss = `
:root { --fg:#1d2330; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --card:#fff; --accent:#2f5bd3;
  --warn:#b45309; --danger:#b91c1c; --ok:#15803d; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:var(--bg); font-size:14px; line-height:1.45; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
.top { display:flex; flex-wrap:wrap; align-items:center; gap:.25rem 1rem; padding:.6rem 1rem;
  background:#111827; color:#fff; }
.top a { color:#d1d5db; } .top a[aria-current="page"] { color:#fff; font-weight:600; }
.top .brand { color:#fff; font-weight:700; font-size:1.1rem; margin-right:.5rem; }
.top nav { display:flex; flex-wrap:wrap; gap:.9rem; }
main { padding:1rem; max-width:1400px; margin:0 auto; }
h1 { font-size:1.35rem; margin:.25rem 0 1rem; } h2 { font-size:1.05rem; margin:1.5rem 0 .5rem; }
.scroll { overflow-x:auto; background:var(--card); border:1px solid var(--line); border-radius:6px; }
table { border-collapse:collapse; width:100%; }
th, td { padding:.4rem .5rem; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; white-space:nowrap; }
thead th { font-size:.75rem; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); background:#f3f4f6; }
.num { text-align:right; font-variant-numeric: tabular-nums; }
.muted { color:var(--muted); } .ok { color:var(--ok); } .empty { color:var(--muted); padding:1rem 0; }
.badge { display:inline-block; padding:0 .45rem; border-radius:999px; background:#e0e7ff; color:#3730a3; font-size:.75rem; }
.badge.warn { background:#fef3c7; color:var(--warn); }
.chip { display:inline-block; padding:0 .4rem; border:1px solid var(--line); border-radius:4px; font-size:.8rem; }
.state { font-weight:600; } .state.completed { color:var(--ok); } .state.discarded { color:var(--danger); }
.state.retryable { color:var(--warn); } .state.executing { color:var(--accent); } .state.cancelled { color:var(--muted); }
.progress { font-size:.8rem; color:var(--muted); font-variant-numeric: tabular-nums; }
.progress progress { width:5rem; height:.6rem; vertical-align:middle; accent-color:var(--accent); }
.progress code { white-space:nowrap; }
.flash { background:#ecfdf5; border:1px solid #a7f3d0; padding:.5rem .75rem; border-radius:6px; }
.flash.error { background:#fef2f2; border-color:#fecaca; }
button { font:inherit; padding:.25rem .7rem; border:1px solid #cbd5e1; border-radius:5px; background:#fff; cursor:pointer; }
button:hover { background:#f1f5f9; } button.danger { color:var(--danger); border-color:#fca5a5; }
input { font:inherit; padding:.25rem .45rem; border:1px solid #cbd5e1; border-radius:5px; min-width:0; }
.actions, .inline { display:flex; flex-wrap:wrap; gap:.4rem; align-items:center; }
td .actions { flex-wrap:nowrap; } a.zero { color:#c0c6cf; }
.actions form, .inline form { margin:0; } .scale { display:flex; gap:.25rem; } .scale input { width:4.5rem; }
.filters { display:flex; flex-wrap:wrap; gap:.4rem; align-items:center; margin:.75rem 0; }
.filters input { width:9.5rem; }
.tabs { display:flex; flex-wrap:wrap; gap:.25rem; border-bottom:1px solid var(--line); }
.tabs a { padding:.35rem .7rem; border-radius:5px 5px 0 0; color:var(--muted); }
.tabs a[aria-current="page"] { background:var(--card); border:1px solid var(--line); border-bottom-color:var(--card); color:var(--fg); margin-bottom:-1px; }
.bulk { display:flex; flex-wrap:wrap; gap:.5rem 1.5rem; margin:.5rem 0 .75rem; }
.total { margin:.25rem 0; color:var(--muted); } .next { display:inline-block; margin-top:.75rem; }
.plain { list-style:none; margin:0; padding:0; } .node { font-family: ui-monospace, monospace; font-size:.8rem; }
dl.fields { display:grid; grid-template-columns:max-content 1fr; gap:.3rem 1rem; background:var(--card);
  border:1px solid var(--line); border-radius:6px; padding:.75rem 1rem; }
dl.fields dt { color:var(--muted); } dl.fields dd { margin:0; word-break:break-all; }
pre { background:#0f172a; color:#e2e8f0; padding:.75rem; border-radius:6px; overflow-x:auto; font-size:.8rem; }
pre.error { background:#450a0a; color:#fee2e2; white-space:pre-wrap; }
.timeline { margin:0; padding-left:1.2rem; } .timeline span { display:inline-block; min-width:6rem; color:var(--muted); }
.errors li { margin-bottom:.75rem; } .confirm { font-size:1rem; }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(320px, 1fr)); gap:1rem; margin-top:1.5rem; }
.chart { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:.5rem .75rem; }
.chart h3 { font-size:.85rem; margin:.25rem 0; } .chart svg { width:100%; height:auto; display:block; }
.legend { display:flex; gap:1rem; font-size:.75rem; color:var(--muted); }
.legend i { display:inline-block; width:.7rem; height:.7rem; border-radius:2px; margin-right:.3rem; vertical-align:middle; }
.chart rect.completed, .legend i.completed { fill:var(--ok); background:var(--ok); }
.chart rect.discarded, .legend i.discarded { fill:var(--danger); background:var(--danger); }
.chart rect.cancelled, .legend i.cancelled { fill:var(--muted); background:var(--muted); }
.chart polyline.p95 { fill:none; stroke:var(--accent); stroke-width:2; }
.range { display:flex; gap:.75rem; margin-top:1.5rem; align-items:center; }
@media (max-width: 640px) {
  table.queues thead { display:none; }
  table.queues, table.queues tbody, table.queues tr, table.queues th, table.queues td { display:block; }
  table.queues tr { border-bottom:2px solid var(--line); padding:.35rem 0; }
  table.queues th[scope="row"] { border:0; font-size:1rem; }
  table.queues td { display:flex; justify-content:space-between; gap:1rem; border:0; padding:.15rem .6rem; text-align:right; }
  table.queues td[data-label]::before { content:attr(data-label); color:var(--muted); text-align:left; }
  table.queues td.row-actions { justify-content:flex-start; padding-top:.4rem; }
  main { padding:.6rem; } .filters input { width:calc(50% - .4rem); } h1 { font-size:1.15rem; } }
`;

/** The script, served at `assets/dashboard.js`: select-all and confirmations. Pages work without it. */
export const dashboardJs = `
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select-all")) return;
  for (const item of document.querySelectorAll('input[name="ids"]')) item.checked = box.checked;
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
  if (question && !window.confirm(question)) event.preventDefault();
});
`;
