// Turns the samples of a run into the printed table (medians, min–max, docket/peer ratios).

import type { SystemName } from "./config.js";
import { formatNumber, type Summary, summarize } from "./stats.js";

/** One measurement of one trial. */
export interface Sample {
  /** Row of the table this sample belongs to, e.g. "processing jobs/s (concurrency 10)". */
  metric: string;
  /** A system, or "pgbench" for the floor. */
  system: SystemName | "pgbench";
  round: number;
  value: number;
}

/** One row of the table. */
export interface Row {
  metric: string;
  /** Whether a larger value is better (throughput) or a smaller one (latency, time). */
  higherIsBetter: boolean;
  cells: Partial<Record<SystemName | "pgbench", Summary>>;
  /** docket's median divided by each peer's median. */
  ratios: Partial<Record<SystemName | "pgbench", number>>;
}

const columns: (SystemName | "pgbench")[] = [
  "docket",
  "docket-partitioned",
  "graphile-worker",
  "pg-boss",
  "pgbench",
];

/** Groups samples into rows, in the order metrics first appear. */
export function buildRows(samples: readonly Sample[], lowerIsBetter: ReadonlySet<string>): Row[] {
  const metrics = [...new Set(samples.map((s) => s.metric))];
  return metrics.map((metric) => {
    const cells: Row["cells"] = {};
    for (const column of columns) {
      const values = samples
        .filter((s) => s.metric === metric && s.system === column)
        .map((s) => s.value);
      const summary = summarize(values);
      if (summary) cells[column] = summary;
    }
    const ratios: Row["ratios"] = {};
    const ours = cells.docket?.median;
    if (ours !== undefined) {
      for (const column of columns) {
        const theirs = cells[column]?.median;
        if (column !== "docket" && theirs !== undefined && theirs !== 0)
          ratios[column] = ours / theirs;
      }
    }
    return { metric, higherIsBetter: !lowerIsBetter.has(metric), cells, ratios };
  });
}

/** The rows as a fixed-width text table. */
export function formatTable(rows: readonly Row[]): string {
  const present = columns.filter((c) => rows.some((r) => r.cells[c]));
  const peers = comparedPeers(rows, present);
  const header = ["metric", ...present, ...peers.map((p) => `docket/${p}`)];
  const lines = rows.map((row) => [
    `${row.metric}${row.higherIsBetter ? "" : " ↓"}`,
    ...present.map((c) => cell(row.cells[c])),
    ...peers.map((p) => {
      const ratio = row.ratios[p];
      return ratio === undefined ? "" : `${ratio.toFixed(2)}×`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ");
  return [format(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(format)].join(
    "\n",
  );
}

/** Peers that share at least one row with docket: they get a ratio column. */
function comparedPeers(rows: readonly Row[], present: readonly (SystemName | "pgbench")[]) {
  return present.filter((c) => c !== "docket" && rows.some((r) => r.ratios[c] !== undefined));
}

function cell(summary: Summary | undefined): string {
  if (!summary) return "";
  if (summary.n === 1) return formatNumber(summary.median);
  return `${formatNumber(summary.median)} (${formatNumber(summary.min)}–${formatNumber(summary.max)})`;
}

/** The rows as a Markdown table, for docs/performance.md. */
export function formatMarkdown(rows: readonly Row[]): string {
  const present = columns.filter((c) => rows.some((r) => r.cells[c]));
  const peers = comparedPeers(rows, present);
  const header = ["metric", ...present, ...peers.map((p) => `docket/${p}`)];
  const lines = rows.map((row) => [
    `${row.metric}${row.higherIsBetter ? "" : " (lower is better)"}`,
    ...present.map((c) => cell(row.cells[c])),
    ...peers.map((p) => {
      const ratio = row.ratios[p];
      return ratio === undefined ? "" : `${ratio.toFixed(2)}×`;
    }),
  ]);
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`,
    ...lines.map((l) => `| ${l.join(" | ")} |`),
  ].join("\n");
}
