import { answerWithin } from "../db/answer-within.js";
import { isRetryableDatabaseError } from "../errors.js";
import { type AckRow, ackJobs, type PlainCompletions } from "../sql/ack.js";
import { type Executor, run } from "../sql/executor.js";
import type { JobState } from "../types.js";
import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";
import { maxErrorMessageLength, storableLimitedText } from "../validation/storable.js";

interface Pending {
  row: AckRow;
  /**
   * Called with the stored state, or null when the job had left this node's hands; with the
   * error stored instead when PostgreSQL refused the outcome and the job was discarded.
   */
  done: (state: JobState | null, unstored?: Error) => void;
  /** Set on the outcome stored in place of one PostgreSQL refused (see Acker#split). */
  replacement?: true;
}

/** How the acker reaches the database and reports trouble. */
export interface AckerOptions {
  executor: Executor;
  schema: string;
  node: string;
  intervalMs: number;
  batchSize: number;
  /**
   * How long a batch may go unanswered before it is sent again (storing an outcome twice is
   * harmless: the second finds the attempt settled and changes nothing).
   */
  answerWithinMs: number;
  onError: (error: unknown) => void;
}

/**
 * Stores the outcomes of attempts in batches: one UPDATE for all the outcomes gathered during
 * a few milliseconds, instead of one per job. Outcomes are kept, and retried, while the
 * database is unreachable.
 */
export class Acker {
  readonly #options: AckerOptions;
  #pending: Pending[] = [];
  #inFlight: Pending[] = [];
  #timer: LongTimer | undefined;
  #flushing: Promise<void> | undefined;

  constructor(options: AckerOptions) {
    this.#options = options;
  }

  /** Number of outcomes not yet stored. */
  get size(): number {
    return this.#pending.length;
  }

  /**
   * True while outcomes pile up faster than they are stored (the database is slow or away):
   * producers then stop claiming jobs, so a node does not run work it cannot record.
   */
  get backlogged(): boolean {
    return this.#pending.length >= this.#options.batchSize * 2;
  }

  /** Queues one outcome; `done` runs once it is stored. */
  push(row: AckRow, done: Pending["done"]): void {
    this.#pending.push({ row, done });
    if (this.#pending.length >= this.#options.batchSize) this.#startFlush();
    else this.#timer ??= setLongTimeout(() => this.#startFlush(), this.#options.intervalMs);
  }

  /** Stores everything queued so far. */
  async flush(): Promise<void> {
    while (this.#pending.length > 0 || this.#flushing) {
      this.#startFlush();
      await this.#flushing;
    }
  }

  #startFlush(): void {
    if (this.#timer) {
      this.#timer.clear();
      this.#timer = undefined;
    }
    if (this.#flushing || this.#pending.length === 0) return;
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = undefined;
      if (this.#pending.length > 0) this.#startFlush();
    });
  }

  /** Ids of the jobs whose outcome is waiting to be stored or being stored. */
  heldIds(): string[] {
    return [...this.#inFlight, ...this.#pending].map((p) => p.row.id);
  }

  async #drain(): Promise<void> {
    const batch = this.#pending.splice(0, this.#options.batchSize);
    this.#inFlight = batch;
    try {
      await this.#store(batch);
    } finally {
      this.#inFlight = [];
    }
  }

  /**
   * Stores a batch, retrying while the database is away. A batch that PostgreSQL refuses for
   * its data (an outcome it cannot hold) is split in two, and each half stored on its own, so
   * the one bad outcome is found and recorded as discarded with the reason while the others are
   * saved.
   */
  async #store(batch: Pending[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const stored = await this.#send(batch.map((p) => p.row));
        for (const p of batch) p.done(stored.has(p.row.id) ? p.row.state : null);
        return;
      } catch (error) {
        this.#options.onError(error);
        if (isDataError(error)) return this.#split(batch, error);
        if (!isRetryableDatabaseError(error) || attempt >= 600) {
          // The jobs stay executing; their producer reclaims them (see Producer#reclaim).
          for (const p of batch) p.done(null);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }

  async #split(batch: Pending[], error: unknown): Promise<void> {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.#store(batch.slice(0, half));
      await this.#store(batch.slice(half));
      return;
    }
    const [pending] = batch as [Pending];
    if (pending.replacement) {
      pending.done(null); // even the replacement was refused: the producer reclaims it
      return;
    }
    const row = unstoredOutcome(pending.row, error);
    const unstored = new Error(row.error?.error);
    unstored.name = "UnstorableOutcomeError";
    const done = (state: JobState | null) => pending.done(state, unstored);
    await this.#store([{ row, done, replacement: true }]);
  }

  async #send(rows: AckRow[]): Promise<Set<string>> {
    const { executor, schema, node } = this.#options;
    const plain: PlainCompletions = { ids: [], attempts: [] };
    const others: AckRow[] = [];
    for (const row of rows) {
      if (isPlainCompletion(row)) {
        plain.ids.push(row.id);
        plain.attempts.push(row.attempt);
      } else {
        others.push(row);
      }
    }
    const [result] = await answerWithin(
      run(executor, ackJobs(schema, node, plain, others)),
      this.#options.answerWithinMs,
      `a batch of ${rows.length} outcomes`,
    );
    return new Set(result?.ids ? result.ids.split(",") : []);
  }
}

/**
 * Whether PostgreSQL refused a statement for the data it carried (SQLSTATE class 22, data
 * exception, such as a NUL in jsonb or an interval out of range; or 54000, a value too large):
 * sending the same rows again would fail again.
 */
function isDataError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("22") || code === "54000");
}

/** The outcome stored in place of one PostgreSQL refused: the attempt ends discarded. */
function unstoredOutcome(row: AckRow, error: unknown): AckRow {
  let reason = "unknown error";
  try {
    const { code, message } = error as { code?: unknown; message?: unknown };
    reason = `${String(message)} (SQLSTATE ${String(code)})`;
  } catch {}
  return {
    id: row.id,
    attempt: row.attempt,
    state: "discarded",
    delay_ms: null,
    refund: 0,
    error: {
      attempt: row.attempt,
      at: new Date().toISOString(),
      error: storableLimitedText(
        `UnstorableOutcomeError: the ${row.state} outcome of this attempt could not be stored, so the job was discarded: ${reason}`,
        maxErrorMessageLength,
      ),
    },
    meta: {},
  };
}

/** A completion that adds nothing to `meta`: it travels in the arrays of {@link ackJobs}. */
function isPlainCompletion(row: AckRow): boolean {
  return row.state === "completed" && row.error === null && Object.keys(row.meta).length === 0;
}
