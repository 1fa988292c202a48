import { isRetryableDatabaseError } from "../errors.js";
import { type Executor, run } from "../sql/executor.js";
import { type AckRow, ackJobs, type PlainCompletions } from "../sql/jobs.js";
import type { JobState } from "../types.js";

interface Pending {
  row: AckRow;
  /** Called with the stored state, or null when the job had left this node's hands. */
  done: (state: JobState | null) => void;
}

/** How the acker reaches the database and reports trouble. */
export interface AckerOptions {
  executor: Executor;
  schema: string;
  node: string;
  intervalMs: number;
  batchSize: number;
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
  #timer: NodeJS.Timeout | undefined;
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
    else this.#timer ??= setTimeout(() => this.#startFlush(), this.#options.intervalMs);
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
      clearTimeout(this.#timer);
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
    const { executor, schema, node } = this.#options;
    const plain: PlainCompletions = { ids: [], attempts: [] };
    const rows: AckRow[] = [];
    for (const { row } of batch) {
      if (isPlainCompletion(row)) {
        plain.ids.push(row.id);
        plain.attempts.push(row.attempt);
      } else {
        rows.push(row);
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const [result] = await run(executor, ackJobs(schema, node, plain, rows));
        const stored = new Set(result?.ids ? result.ids.split(",") : []);
        this.#inFlight = [];
        for (const p of batch) p.done(stored.has(p.row.id) ? p.row.state : null);
        return;
      } catch (error) {
        this.#options.onError(error);
        if (!isRetryableDatabaseError(error) || attempt >= 600) {
          // The jobs stay executing; their producer reclaims them (see Producer#reclaim).
          this.#inFlight = [];
          for (const p of batch) p.done(null);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }
}

/** A completion that adds nothing to `meta`: it travels in the arrays of {@link ackJobs}. */
function isPlainCompletion(row: AckRow): boolean {
  return row.state === "completed" && row.error === null && Object.keys(row.meta).length === 0;
}
