// About 490 lines: one fetch loop (claim sizing, back-off, throttle, slots, hand-back), kept
// whole because its timers and counters are read together on every claim.
import { answerWithin } from "../db/answer-within.js";
import { toClaimedJob } from "../db/job-row.js";
import type { QueueEvents } from "../events.js";
import type { Instrumentation } from "../internals.js";
import { type Executor, run } from "../sql/executor.js";
import { claimLimitedJobs } from "../sql/flow.js";
import { fetchJobs, reclaimLostJobs } from "../sql/jobs.js";
import { progressKey } from "../sql/progress.js";
import type { Job } from "../types.js";
import { type LongTimer, setLongInterval, setLongTimeout } from "../validation/long-timer.js";
import type { AnyWorker } from "../workers/define-worker.js";
import { LazyAbortController } from "../workers/lazy-abort-controller.js";
import {
  type DependencyReader,
  type Outcome,
  type ProgressSink,
  runJob,
  ShutdownError,
  toAckRow,
  unexpectedFailure,
} from "../workers/run-job.js";
import type { Acker } from "./acker.js";
import { CompletionRate } from "./completion-rate.js";
import { dependencyReader } from "./dependency-reader.js";
import type { ProgressWriter } from "./progress-writer.js";

type Emit = <K extends keyof QueueEvents>(event: K, ...args: QueueEvents[K]) => void;

/** What a producer needs from its node. */
export interface ProducerOptions {
  executor: Executor;
  schema: string;
  node: string;
  queue: string;
  limit: number;
  /** Jobs claimed ahead of free slots, or "auto" (see {@link Producer}). */
  prefetch: number | "auto";
  paused: boolean;
  /**
   * Whether the queue has limits stored (flow control): claims then go through the database's
   * limited claim, and `prefetch: "auto"` claims nothing ahead (a job held in a buffer would take
   * a slot of the global or partition limit that another node could use).
   */
  limited: boolean;
  pollIntervalMs: number;
  /**
   * Jobs attributed to this producer in the database for longer than this, that it does not
   * hold, are given back (see {@link reclaimLostJobs}); checked every `reclaimIntervalMs`.
   */
  reclaimAfterMs: number;
  reclaimIntervalMs: number;
  /**
   * How long a claim may go unanswered before the producer stops waiting for it and claims
   * again; jobs of an answer that comes later are given back.
   */
  answerWithinMs: number;
  workers: ReadonlyMap<string, AnyWorker>;
  acker: Acker;
  /** Where `progress()` reports go; the value left unwritten goes with the outcome. */
  progress?: ProgressWriter;
  emit: Emit;
  /** Whether anyone listens to `event`: payloads nobody reads are not built. */
  listens: (event: keyof QueueEvents) => boolean;
  /** The queue's hooks (`docket/otel`), read at every attempt. */
  instrumentation: Instrumentation;
}

interface Claimed {
  job: Job;
  controller: LazyAbortController;
  started: boolean;
  /** Set when shutdown gave the job back; a later outcome is then ignored. */
  abandoned: boolean;
  settled: Promise<void>;
}

/**
 * Fetches and runs the jobs of one queue on one node. It claims as many jobs as it has free
 * slots (plus `prefetch`), when woken by a notification, when a job finishes while more may be
 * waiting (the last claim came back full), and on every poll tick, so that a lost notification
 * only costs one poll interval.
 *
 * Prefetched jobs wait in a local buffer, `executing` and attributed to this node (so the
 * lifeline accounts for them through the node's heartbeat); stop() hands them back unstarted.
 * With `prefetch: "auto"` the buffer holds about 100 ms of the queue's recent throughput (at most
 * 100 jobs per slot, 1,000 in all): fast jobs are claimed in large batches, slow ones are not
 * hoarded.
 */
export class Producer {
  readonly queue: string;
  readonly #options: ProducerOptions;
  readonly #readDependencies: DependencyReader;
  readonly #progress: ProgressSink | undefined;
  /** Jobs that may run at once. */
  #limit: number;
  /** Jobs running now. */
  #running = 0;
  /** Claimed jobs waiting for a slot, oldest first. */
  #waiting: Claimed[] = [];
  readonly #claimed = new Map<string, Claimed>();
  #paused: boolean;
  #limited: boolean;
  #lastFetchAt = 0;
  #lastFetchError: string | null = null;
  #started = false;
  #stopping = false;
  /** The fetch under way, if any: stop() waits for it so that no claimed job slips past. */
  #fetching: Promise<void> | undefined;
  /** A wake came while a fetch was under way: look again once it is back. */
  #wokenMeanwhile = false;
  /**
   * Jobs may be waiting that no claim has asked for: the last claim came back full, or a wake
   * (a notification, a poll) came while there was no room to fetch. A finished job then claims
   * again; otherwise it does not, and the next job's notification (or the poll) wakes the
   * producer: an idle queue's claims are one per job, not two, the second finding nothing.
   */
  #moreMayWait = true;
  #fillScheduled = false;
  #pollTimer: LongTimer | undefined;
  #reclaimTimer: LongTimer | undefined;
  #backoffTimer: LongTimer | undefined;
  #backoffUntil = 0;
  /** Set when a fetch was skipped because outcomes piled up in the acker. */
  #waitingForAcks = false;
  /** The completion rate behind `prefetch: "auto"`. */
  readonly #completions = new CompletionRate();

  constructor(options: ProducerOptions) {
    this.#options = options;
    this.#readDependencies = dependencyReader(options.executor, options.schema);
    const writer = options.progress;
    this.#progress = writer && ((job, progress) => writer.report(job, progress));
    this.queue = options.queue;
    this.#limit = options.limit;
    this.#paused = options.paused;
    this.#limited = options.limited;
  }

  /** Whether claims go through the limited claim (the queue has limits stored). */
  get limited(): boolean {
    return this.#limited;
  }

  /** Follows a change of the queue's stored limits (flow control). */
  setLimited(limited: boolean): void {
    this.#limited = limited;
    this.wake();
  }

  /** Jobs this producer holds: running or waiting for a slot. */
  get claimed(): number {
    return this.#claimed.size;
  }

  get limit(): number {
    return this.#limit;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** When the last claim succeeded (null: none yet), for `queue.health()`. */
  get lastFetchAt(): Date | null {
    return this.#lastFetchAt === 0 ? null : new Date(this.#lastFetchAt);
  }

  /** The message of the last claim's error, null once a claim succeeds again. */
  get lastFetchError(): string | null {
    return this.#lastFetchError;
  }

  start(): void {
    this.#started = true;
    this.#pollTimer = setLongInterval(() => this.wake(), this.#options.pollIntervalMs).unref();
    this.#reclaimTimer = setLongInterval(
      () => void this.reclaim(),
      this.#options.reclaimIntervalMs,
    ).unref();
    this.wake();
  }

  /** Gives back this producer's lost claims; returns how many. */
  async reclaim(): Promise<number> {
    if (this.#stopping) return 0;
    const { executor, schema, node, queue, acker, reclaimAfterMs } = this.#options;
    const held = [...this.#claimed.keys(), ...acker.heldIds()];
    try {
      const rows = await run(executor, reclaimLostJobs(schema, node, queue, held, reclaimAfterMs));
      return rows.length;
    } catch (error) {
      this.#options.emit("queue:error", { error, source: `producer:${this.queue}` });
      return 0;
    }
  }

  /** Changes how many jobs run at once; takes effect at once. */
  scale(limit: number): void {
    this.#limit = limit;
    this.#startWaiting();
    this.wake();
  }

  /** Runs nothing more; jobs claimed ahead (the prefetch buffer) go back to the queue. */
  pause(): void {
    this.#paused = true;
    this.#waiting = [];
    for (const claimed of [...this.#claimed.values()]) {
      if (!claimed.started) this.#handBack(claimed);
    }
  }

  resume(): void {
    this.#paused = false;
    this.wake();
  }

  /** Asks for a fetch soon; many calls in one tick make one fetch. */
  wake(): void {
    // Not before start(): the node applies the stored pause and scale of its queues first, and a
    // fetch sent earlier (a notification, the listener's catch-up) would claim jobs regardless.
    if (!this.#started || this.#stopping || this.#paused) return;
    if (this.#fetching) {
      this.#wokenMeanwhile = true;
      return;
    }
    if (this.#fillScheduled) return;
    if (!this.#wantsJobs()) {
      this.#moreMayWait = true;
      return;
    }
    this.#fillScheduled = true;
    // A microtask, not a later turn of the event loop: jobs that finish without waiting on I/O
    // run one after another in microtasks, and the fetch must go out while they do.
    queueMicrotask(() => {
      this.#fillScheduled = false;
      this.#fill();
    });
  }

  /** Aborts the signal of a running job of this producer; returns whether it held the job. */
  abort(id: string, reason: unknown): boolean {
    const claimed = this.#claimed.get(id);
    if (!claimed) return false;
    claimed.controller.abort(reason);
    return true;
  }

  /** Starts a fetch if the buffer needs one; once back, looks again if it came back full. */
  #fill(): void {
    if (this.#fetching || this.#stopping || this.#paused || !this.#wantsJobs()) return;
    const count = this.#limit + this.#prefetch() - this.#claimed.size;
    this.#fetching = this.#fetch(count).then((full) => {
      this.#fetching = undefined;
      // A failed claim is tried again when its back-off ends, and finished jobs wake it too.
      this.#moreMayWait = full || this.#lastFetchError !== null;
      if (full || this.#wokenMeanwhile) {
        this.#wokenMeanwhile = false;
        this.#fill();
      }
    });
  }

  /** Claims up to `count` jobs and hands them to the slots; true when it got all it asked for. */
  async #fetch(count: number): Promise<boolean> {
    try {
      const { executor, schema, queue, node } = this.#options;
      const claim = this.#limited ? claimLimitedJobs : fetchJobs;
      const rows = await answerWithin(
        run(executor, claim(schema, queue, count, node)),
        this.#options.answerWithinMs,
        `a claim of queue ${queue}`,
        (late) => {
          for (const row of late) this.#giveBack(toClaimedJob(row, queue, node));
        },
      );
      rows.sort(
        (a, b) =>
          a.priority - b.priority ||
          +a.scheduled_at - +b.scheduled_at ||
          Number(a.id) - Number(b.id),
      );
      this.#lastFetchAt = Date.now();
      this.#lastFetchError = null;
      for (const row of rows) this.#dispatch(toClaimedJob(row, queue, node));
      return rows.length === count;
    } catch (error) {
      this.#lastFetchError = error instanceof Error ? error.message : String(error);
      const backoffMs = Math.min(this.#options.pollIntervalMs, 1000);
      this.#backoffUntil = Date.now() + backoffMs;
      // Wake-ups during the back-off ask for nothing, so look again once it ends.
      this.#backoffTimer?.clear();
      this.#backoffTimer = setLongTimeout(() => this.wake(), backoffMs + 1).unref();
      this.#options.emit("queue:error", { error, source: `producer:${this.queue}` });
      return false;
    }
  }

  #dispatch(job: Job): void {
    const controller = new LazyAbortController();
    const claimed: Claimed = {
      job,
      controller,
      started: false,
      abandoned: false,
      settled: Promise.resolve(),
    };
    this.#claimed.set(job.id, claimed);
    this.#waiting.push(claimed);
    this.#startWaiting();
  }

  #slotFreed(): void {
    this.#running--;
    this.#startWaiting();
  }

  /** Starts waiting jobs, oldest first, while slots are free. */
  #startWaiting(): void {
    while (this.#running < this.#limit && this.#waiting.length > 0) {
      const claimed = this.#waiting.shift() as Claimed;
      this.#running++;
      claimed.settled = this.#execute(claimed).then(
        () => this.#slotFreed(),
        (error: unknown) => {
          this.#options.emit("queue:error", { error, source: `producer:${this.queue}` });
          this.#slotFreed();
        },
      );
    }
  }

  async #execute(claimed: Claimed): Promise<void> {
    if (claimed.abandoned) return;
    if (claimed.controller.aborted) {
      // Cancelled while it waited for a slot: the job is no longer ours to run.
      this.#claimed.delete(claimed.job.id);
      return;
    }
    if (this.#paused && !this.#stopping) {
      // Claimed by a fetch that was under way when the queue was paused.
      this.#handBack(claimed);
      return;
    }
    claimed.started = true;
    const { job } = claimed;
    const startedAt = performance.now();
    const queueTimeMs = Math.max(0, +(job.attemptedAt ?? 0) - +job.scheduledAt);
    if (this.#options.listens("job:start")) this.#options.emit("job:start", { job, queueTimeMs });
    const worker = this.#options.workers.get(job.worker);
    const around = this.#options.instrumentation.attempt;
    let outcome: Outcome;
    try {
      outcome = await (around ?? runJob)(
        job,
        worker,
        claimed.controller,
        this.#options.node,
        this.#progress,
        this.#readDependencies,
      );
    } catch (error) {
      // runJob turns every throw of user code into an outcome; should anything else escape
      // (a tracer's hook included), the attempt still ends and its slot is freed, instead of
      // the job staying executing.
      outcome = unexpectedFailure(job, error);
    }
    const durationMs = performance.now() - startedAt;
    if (claimed.abandoned) return;
    this.#claimed.delete(job.id);
    this.#completions.count(this.#limit);
    this.#store(job, outcome, { queueTimeMs, durationMs });
    // A limited queue counts this job against its limits until its outcome is stored, so it
    // fetches again then too (see #store), in case this fetch finds the limit still taken.
    if (this.#moreMayWait || this.#limited) this.wake();
  }

  /** Whether a fetch now would be worth its round trip. */
  #wantsJobs(): boolean {
    if (Date.now() < this.#backoffUntil) return false;
    if (this.#options.acker.backlogged) {
      // Woken again as soon as outcomes are stored (see #store): with every claimed job done,
      // nothing else would wake it before the next poll.
      this.#waitingForAcks = true;
      return false;
    }
    const prefetch = this.#prefetch();
    const free = this.#limit + prefetch - this.#claimed.size;
    if (free <= 0) return false;
    // A slot is idle only while fewer jobs are held than run at once: fill it now. Otherwise the
    // prefetch buffer is refilled once half of it is used, so that fetches come in batches and
    // overlap with the jobs still buffered (with no prefetch: at once).
    return this.#claimed.size < this.#limit || free >= Math.ceil(prefetch / 2);
  }

  /** How many jobs to hold beyond the running ones now. */
  #prefetch(): number {
    const { prefetch } = this.#options;
    if (prefetch !== "auto") return prefetch;
    if (this.#limited) return 0;
    return this.#completions.prefetch(this.#limit);
  }

  #store(job: Job, outcome: Outcome, timing: { queueTimeMs: number; durationMs: number }): void {
    const { acker, emit, listens } = this.#options;
    const row = toAckRow(job, outcome);
    // The last progress not surely written is stored with the outcome, under the ack's guard.
    const progress = this.#options.progress?.take(job.id);
    if (progress !== undefined) row.meta = { ...row.meta, [progressKey]: progress };
    acker.push(row, (state, unstored) => {
      if (this.#waitingForAcks || this.#limited) {
        this.#waitingForAcks = false;
        this.wake();
      }
      if (state === null) return; // cancelled, rescued or deleted meanwhile: not ours to report
      if (unstored) {
        // PostgreSQL refused the outcome; the job was discarded with this error instead.
        const stored: Job = { ...job, state };
        emit("job:error", { job: stored, error: unstored, state: "discarded", ...timing });
        emit("job:discard", { job: stored, error: unstored, ...timing });
        return;
      }
      if (outcome.kind === "complete" && !listens("job:complete")) return;
      const stored: Job = { ...job, state };
      switch (outcome.kind) {
        case "complete":
          emit("job:complete", { job: stored, result: outcome.result, ...timing });
          break;
        case "error":
          emit("job:error", { job: stored, error: outcome.error, state: outcome.state, ...timing });
          if (outcome.state === "discarded")
            emit("job:discard", { job: stored, error: outcome.error, ...timing });
          break;
        case "snooze":
          emit("job:snooze", { job: stored, delayMs: outcome.delayMs, ...timing });
          break;
        case "cancel":
          emit("job:cancel", { job: stored, reason: outcome.reason, ...timing });
          break;
        case "handback":
          break;
      }
    });
  }

  /**
   * Stops fetching, gives back the jobs that have not started, lets running ones finish within
   * `graceMs`, then aborts them and gives back those that still have not finished. Every job
   * given back is `available` again with its attempt refunded.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#pollTimer?.clear();
    this.#reclaimTimer?.clear();
    this.#backoffTimer?.clear();
    // Jobs claimed by a fetch that was under way are dispatched before the hand-back below.
    while (this.#fetching) await this.#fetching;
    this.#waiting = [];
    for (const claimed of [...this.#claimed.values()]) {
      if (!claimed.started) this.#handBack(claimed);
    }
    const running = () => [...this.#claimed.values()].map((c) => c.settled);
    if (await settlesWithin(running(), graceMs)) return;
    for (const claimed of this.#claimed.values()) claimed.controller.abort(new ShutdownError());
    // A moment for performs that honour their signal to settle, then take the rest back.
    await settlesWithin(running(), Math.min(1000, Math.max(50, graceMs / 10)));
    for (const claimed of [...this.#claimed.values()]) this.#handBack(claimed);
  }

  #handBack(claimed: Claimed): void {
    claimed.abandoned = true;
    this.#claimed.delete(claimed.job.id);
    this.#giveBack(claimed.job);
  }

  /** Makes a job claimed by this producer available again, its attempt refunded. */
  #giveBack(job: Job): void {
    this.#store(job, { kind: "handback" }, { queueTimeMs: 0, durationMs: 0 });
  }
}

async function settlesWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: LongTimer | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setLongTimeout(() => resolve(false), ms);
  });
  const all = Promise.all(promises).then(() => true);
  const settled = await Promise.race([all, timeout]);
  timer?.clear();
  return settled;
}
