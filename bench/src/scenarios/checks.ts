// Bookkeeping shared by the scenarios: which jobs ran, how often, and waiting for the database.

import postgres from "postgres";

/** Counts handler starts per job, to find jobs lost or run twice. */
export class Ledger {
  readonly starts = new Map<number, number>();
  readonly startedAt = new Map<number, number>();
  #firstAt = Number.NaN;
  #waiters: { count: number; resolve: () => void }[] = [];

  /** Records that job `i` started now. */
  record(i: number): void {
    const now = performance.now();
    if (Number.isNaN(this.#firstAt)) this.#firstAt = now;
    const seen = this.starts.get(i) ?? 0;
    this.starts.set(i, seen + 1);
    if (seen === 0) this.startedAt.set(i, now);
    if (this.#waiters.length > 0) {
      const unique = this.starts.size;
      this.#waiters = this.#waiters.filter((w) => {
        if (unique < w.count) return true;
        w.resolve();
        return false;
      });
    }
  }

  /** When the first job started (performance.now()). */
  get firstAt(): number {
    return this.#firstAt;
  }

  /** Resolves once `count` distinct jobs have started, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<void> {
    if (this.starts.size >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`only ${this.starts.size} of ${count} jobs started within ${timeoutMs}ms`),
        );
      }, timeoutMs);
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Jobs among `0 … expected - 1` that never started, and starts beyond the first. */
  integrity(expected: number, from = 0): { lost: number; duplicates: number } {
    let lost = 0;
    let duplicates = 0;
    for (let i = from; i < from + expected; i++) {
      const n = this.starts.get(i) ?? 0;
      if (n === 0) lost++;
      else duplicates += n - 1;
    }
    return { lost, duplicates };
  }
}

/** Polls `check` every `everyMs` until it returns true; returns the time it first did. */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 2,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline) throw new Error(`not done within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Runs CHECKPOINT so that a checkpoint started by earlier work does not land in a measurement. */
export async function checkpoint(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`CHECKPOINT`;
  } finally {
    await sql.end();
  }
}
