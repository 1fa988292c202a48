import { expect, test } from "vitest";
import { CompletionRate } from "./completion-rate.js";

/** Returns once the clock has moved on by `ms`. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

test("a burst of fast jobs is measured after four rounds of slots, long before 100 ms", () => {
  const rate = new CompletionRate();
  const limit = 10;
  const began = performance.now();
  for (let k = 0; k < 4 * limit; k++) rate.count(limit);
  // Four rounds could still be one batch of slots finishing together: no rate yet.
  expect(rate.prefetch(limit)).toBe(0);
  spin(2);
  rate.count(limit);
  const tookMs = performance.now() - began;
  // 40 jobs in `tookMs` (about 2 ms, more on a busy machine) or less: 100 ms of them, up to the
  // cap of 100 a slot. Waiting for 100 ms, as before, would leave it at 0.
  const atLeast = Math.min(100 * limit, Math.floor((40 * 100) / tookMs));
  expect(rate.prefetch(limit)).toBeGreaterThanOrEqual(atLeast);
  expect(rate.prefetch(limit)).toBeLessThanOrEqual(100 * limit);
  expect(atLeast).toBeGreaterThan(0);
});

test("slow jobs are measured over 100 ms, and buy about 100 ms of prefetch", () => {
  const rate = new CompletionRate();
  const limit = 100;
  rate.count(limit);
  spin(50);
  rate.count(limit);
  expect(rate.prefetch(limit)).toBe(0);
  spin(55);
  rate.count(limit);
  // Two jobs in just over 105 ms: under 20 a second, so 100 ms of them is one job at most.
  expect(rate.prefetch(limit)).toBeLessThanOrEqual(1);
});
