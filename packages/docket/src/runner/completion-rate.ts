/** `prefetch: "auto"` buffers about this many milliseconds of the queue's recent throughput, */
const autoPrefetchMs = 100;
/** at most this many jobs per slot of the queue's limit, and never more than autoPrefetchMax. */
const autoPrefetchPerSlot = 100;
const autoPrefetchMax = 1000;
/**
 * The throughput behind "auto" is measured over windows of this long, or of this many rounds of
 * the queue's slots when they finish sooner: a burst on an idle queue of fast jobs is measured
 * within milliseconds, and four rounds are never one batch of slots that all finished together.
 */
const rateWindowMs = 100;
const rateWindowRounds = 4;

/**
 * How fast a queue's jobs complete while there are jobs, and the prefetch that buys: what
 * `prefetch: "auto"` holds beyond the running jobs.
 */
export class CompletionRate {
  /** Jobs per second completed while busy. */
  #rate = 0;
  #windowStart = 0;
  #windowCount = 0;

  /**
   * Counts one completion of a queue of `limit` slots. A window opens at a completion and closes
   * at the first one `rateWindowMs` later, or once `rateWindowRounds` rounds of slots have
   * completed, so idle time between bursts does not count: the rate says how fast this queue's
   * jobs go when there are jobs, and falls within a window when they get slow.
   */
  count(limit: number): void {
    const now = performance.now();
    if (this.#windowCount === 0) this.#windowStart = now;
    this.#windowCount++;
    const elapsed = now - this.#windowStart;
    const rounds = this.#windowCount > rateWindowRounds * limit && elapsed > 0;
    if (elapsed < rateWindowMs && !rounds) return;
    const rate = ((this.#windowCount - 1) * 1000) / elapsed;
    this.#rate = this.#rate === 0 ? rate : (this.#rate + rate) / 2;
    this.#windowCount = 0;
  }

  /** The jobs to hold ahead for `limit` slots: about 100 ms of throughput, capped. */
  prefetch(limit: number): number {
    const cap = Math.min(autoPrefetchMax, autoPrefetchPerSlot * limit);
    return Math.min(cap, Math.floor((this.#rate * autoPrefetchMs) / 1000));
  }
}
