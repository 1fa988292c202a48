import type { JobProgress, QueueEvents } from "../events.js";
import { type Executor, run } from "../sql/executor.js";
import { type ProgressBatch, storeProgress } from "../sql/progress.js";
import type { Job, JsonValue } from "../types.js";
import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";
import type { CheckedProgress } from "../validation/progress.js";

type Emit = <K extends keyof QueueEvents>(event: K, ...args: QueueEvents[K]) => void;

/** What the progress writer needs from its node. */
export interface ProgressWriterOptions {
  executor: Executor;
  schema: string;
  node: string;
  /** Least time between two writes: each tick writes every job's last value once. */
  intervalMs: number;
  emit: Emit;
  listens: (event: keyof QueueEvents) => boolean;
  onError: (error: unknown) => void;
}

interface Report {
  job: Job;
  progress: CheckedProgress;
  /** The attempt ended: its value goes with the outcome; the tick only notifies it. */
  ended: boolean;
}

/**
 * Stores what `perform` reports with `progress()`, cheaply: a report replaces the job's
 * previous unwritten one (last value wins), and one statement per `intervalMs` writes the last
 * value of every job of the node that reported since the last tick and NOTIFYs it. The value
 * left unwritten when an attempt ends is taken by its outcome ({@link take}), so it is stored
 * with the ack. A failed write is reported and tried again at the next tick; `perform` never
 * sees it.
 */
export class ProgressWriter {
  readonly #options: ProgressWriterOptions;
  /** The last unwritten report of each job, by id. */
  #pending = new Map<string, Report>();
  /** The reports of the write under way. */
  #inFlight = new Map<string, Report>();
  #timer: LongTimer | undefined;
  #writing: Promise<void> | undefined;
  /** Set by {@link flush} on the node's stop: later reports are emitted only. */
  #stopped = false;

  constructor(options: ProgressWriterOptions) {
    this.#options = options;
  }

  /** Takes a checked report of a running job: emitted here now, written at the next tick. */
  report(job: Job, progress: CheckedProgress): void {
    if (!this.#stopped) {
      this.#pending.set(job.id, { job, progress, ended: false });
      this.#schedule();
    }
    const { emit, listens, node } = this.#options;
    if (!listens("job:progress")) return;
    const event: JobProgress = {
      id: job.id,
      queue: job.queue,
      worker: job.worker,
      attempt: job.attempt,
      node,
      progress: progress.value,
    };
    try {
      emit("job:progress", event);
    } catch (error) {
      // A listener that throws must not fail the job that reported.
      this.#options.onError(error);
    }
  }

  /**
   * The value of an attempt that ended, if any was not yet surely written: the outcome stores it
   * (in the same ack, under the same guard). The next tick still NOTIFYs it.
   */
  take(id: string): JsonValue | undefined {
    const report = this.#pending.get(id) ?? this.#inFlight.get(id);
    if (!report) return undefined;
    if (this.#stopped) return report.progress.value;
    const ended: Report = { ...report, ended: true };
    this.#pending.set(id, ended);
    report.ended = true; // an in-flight copy that fails is not tried again as a write
    this.#schedule();
    return report.progress.value;
  }

  /** Writes what is left now and stops ticking (on the node's stop). */
  async flush(): Promise<void> {
    this.#stopped = true;
    this.#timer?.clear();
    this.#timer = undefined;
    while (this.#writing) await this.#writing;
    if (this.#pending.size > 0) await this.#write();
  }

  #schedule(): void {
    if (this.#timer || this.#writing) return;
    this.#timer = setLongTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
        // The next tick a full interval after this write: at most one write per job per interval.
        if (this.#pending.size > 0) this.#schedule();
      });
    }, this.#options.intervalMs).unref();
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch: ProgressBatch = {
      ids: [],
      attempts: [],
      values: [],
      payloads: [],
      notifyOnly: [],
    };
    this.#inFlight = this.#pending;
    this.#pending = new Map();
    const { node } = this.#options;
    for (const [id, { job, progress, ended }] of this.#inFlight) {
      batch.ids.push(id);
      batch.attempts.push(job.attempt);
      batch.values.push(progress.json);
      batch.notifyOnly.push(ended ? 1 : 0);
      // Built by hand around the checked JSON text: the value is not encoded twice.
      batch.payloads.push(
        `{"id":${JSON.stringify(id)},"queue":${JSON.stringify(job.queue)},"worker":${JSON.stringify(job.worker)},"attempt":${job.attempt},"node":${JSON.stringify(node)},"progress":${progress.json}}`,
      );
    }
    const { executor, schema, onError } = this.#options;
    try {
      await run(executor, storeProgress(schema, node, batch));
    } catch (error) {
      onError(error);
      // Tried again at the next tick, unless a newer report replaced it or its attempt ended.
      for (const [id, report] of this.#inFlight) {
        if (!report.ended && !this.#pending.has(id)) this.#pending.set(id, report);
      }
    } finally {
      this.#inFlight = new Map();
    }
  }
}
