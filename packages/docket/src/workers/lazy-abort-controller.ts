/**
 * An AbortController whose signal is made only when someone asks for it. Most jobs never look at
 * their signal, and making one (an EventTarget) was a measurable share of the CPU spent running a
 * short job (see bench/ and docs/performance.md). Aborting before the signal exists is remembered:
 * a signal made afterwards starts aborted, with the same reason.
 */
export class LazyAbortController {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  /** The signal, made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether abort() was called; unlike `signal.aborted`, this makes no signal. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborts the signal (now, or when it is made); later calls do nothing, as with AbortController. */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
