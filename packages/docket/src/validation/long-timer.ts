/**
 * Timers for durations users give. Node runs a `setTimeout` or `setInterval` of more than
 * 2³¹−1 ms (about 24.8 days) after 1 ms instead, with a warning; these chain timers of at most
 * that length so that a `"30d"` poll interval or job timeout means 30 days.
 */

/** The longest delay Node's timers honour, in milliseconds. */
export const maxTimerMs = 2_147_483_647;

/** A timer from {@link setLongTimeout} or {@link setLongInterval}. */
export interface LongTimer {
  /** Cancels the timer; calling it again does nothing. */
  clear(): void;
  /** Lets the process exit while only this timer is left (see Node's `timeout.unref()`). */
  unref(): LongTimer;
}

class ChainedTimer implements LongTimer {
  #handle: NodeJS.Timeout | undefined;
  #unref = false;
  #cleared = false;

  constructor(
    readonly fn: () => void,
    readonly ms: number,
    readonly repeat: boolean,
  ) {
    this.#arm(ms);
  }

  #arm(remaining: number): void {
    if (this.#cleared) return;
    const step = Math.min(remaining, maxTimerMs);
    this.#handle = setTimeout(() => {
      if (remaining > step) return this.#arm(remaining - step);
      if (this.repeat) this.#arm(this.ms);
      else this.#handle = undefined;
      this.fn();
    }, step);
    if (this.#unref) this.#handle.unref();
  }

  clear(): void {
    this.#cleared = true;
    if (this.#handle) clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  unref(): LongTimer {
    this.#unref = true;
    this.#handle?.unref();
    return this;
  }
}

/**
 * Runs `fn` once after `ms` milliseconds, however long that is.
 *
 * @example
 * ```ts
 * const timer = setLongTimeout(() => expire(), 30 * 86_400_000); // 30 days, not 1 ms
 * timer.clear();
 * ```
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  return new ChainedTimer(fn, Math.max(0, ms), false);
}

/** Runs `fn` every `ms` milliseconds, however long that is, until cleared. */
export function setLongInterval(fn: () => void, ms: number): LongTimer {
  return new ChainedTimer(fn, Math.max(1, ms), true);
}

/** Resolves after `ms` milliseconds, however long that is. */
export function sleepLong(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setLongTimeout(resolve, ms);
  });
}
