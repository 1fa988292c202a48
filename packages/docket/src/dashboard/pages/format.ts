import type { ShownCount } from "../dashboard-data.js";

/** Text formats shared by the pages. */

/** `1,234`, or `~1.2M` for an estimate. */
export function formatCount(shown: ShownCount): string {
  if (!shown.estimated) return shown.count.toLocaleString("en-US");
  const n = shown.count;
  const short =
    n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
  return `~${short}`;
}

/** A duration in the largest unit that keeps it readable: `850 ms`, `12 s`, `4 min`, `3 h`, `2 d`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** A time as `2026-12-02 06:18:02 UTC`. */
export function formatTime(date: Date | null): string {
  if (!date) return "–";
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
