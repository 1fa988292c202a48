import type { Sql } from "postgres";
import { ControlListener } from "../control/control-listener.js";
import type { ControlContext, QueueCheck } from "../control/control-message.js";
import type { Listener } from "../db/listen-connection.js";
import { listenerCheckMs, listenReliably } from "../db/listener.js";
import { storedFlow } from "../flow/flow-options.js";
import { storeConfiguredFlows } from "../flow/flow-store.js";
import type { ParsedQueueOptions } from "../queue-options.js";
import { insertChannel } from "../sql/jobs.js";
import type { HeartbeatRow } from "../sql/maintenance/producers.js";
import type { AnyWorker } from "../workers/define-worker.js";
import { Acker } from "./acker.js";
import { Producer, type ProducerOptions } from "./producer.js";
import { ProgressWriter } from "./progress-writer.js";

/** What a node's job runner needs from its queue. */
export interface JobRunnerOptions {
  sql: Sql;
  /** Where LISTEN runs (see db/listen-connection.ts). */
  listener: Listener;
  options: Readonly<ParsedQueueOptions>;
  workers: ReadonlyMap<string, AnyWorker>;
  emit: ProducerOptions["emit"];
  listens: ProducerOptions["listens"];
  instrumentation: ProducerOptions["instrumentation"];
  reportError: (error: unknown, source: string) => void;
}

/**
 * The part of a started node that fetches and runs jobs: one producer per queue, the acker that
 * stores their outcomes, the LISTEN that wakes them, and the control channel that pauses and
 * scales them. It owns the producers; the queue's control calls, its heartbeat and `checkQueue`
 * see them through what it offers ({@link JobRunner.producers}, {@link JobRunner.heartbeatRows},
 * {@link JobRunner.check}).
 */
export class JobRunner {
  /** One producer per queue of `options.queues`, by queue name. */
  readonly producers: ReadonlyMap<string, Producer>;
  readonly #options: JobRunnerOptions;
  readonly #acker: Acker;
  readonly #progress: ProgressWriter;
  #unlisten: (() => Promise<void>) | undefined;
  #hearing: (() => boolean) | undefined;
  #control: ControlListener | undefined;

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    const { sql, options: queue, workers, emit, listens, instrumentation, reportError } = options;
    const producers = new Map<string, Producer>();
    const { schema, node } = queue;
    this.#acker = new Acker({
      executor: sql,
      schema,
      node,
      intervalMs: queue.ackInterval,
      batchSize: queue.ackBatchSize,
      // A statement unanswered this long would have others count the node as gone anyway.
      answerWithinMs: queue.heartbeat.timeout,
      onError: (error) => reportError(error, "acker"),
    });
    this.#progress = new ProgressWriter({
      executor: sql,
      schema,
      node,
      intervalMs: queue.progressInterval,
      emit,
      listens,
      onError: (error) => reportError(error, "progress"),
    });
    for (const [name, settings] of Object.entries(queue.queues)) {
      producers.set(
        name,
        new Producer({
          executor: sql,
          schema,
          node,
          queue: name,
          limit: settings.limit,
          prefetch: settings.prefetch,
          paused: settings.paused,
          limited: storedFlow(settings) !== null,
          pollIntervalMs: settings.pollInterval ?? queue.pollInterval,
          // A claim older than a heartbeat timeout that the node does not hold is lost.
          reclaimAfterMs: queue.heartbeat.timeout,
          reclaimIntervalMs: queue.heartbeat.interval,
          answerWithinMs: queue.heartbeat.timeout,
          workers,
          acker: this.#acker,
          progress: this.#progress,
          emit,
          listens,
          instrumentation,
        }),
      );
    }
    this.producers = producers;
  }

  /** What control needs to apply a change to this node's producers. */
  get controlContext(): ControlContext {
    const { sql, listener, options } = this.#options;
    const { schema, node, queues } = options;
    return { sql, listener, schema, node, producers: this.producers, configured: queues };
  }

  /** The running queues and their current limits, for the node's heartbeat. */
  heartbeatRows(): HeartbeatRow[] {
    return [...this.producers.values()].map((p) => ({ queue: p.queue, concurrency: p.limit }));
  }

  /**
   * What `queue.health()` reports of the runner: whether the LISTEN hears its pings (null when
   * nothing is listened), each queue's last successful claim, and the outcomes not yet stored.
   */
  health(): RunnerHealth {
    return {
      listening: this.#options.listener.enabled && this.#hearing ? this.#hearing() : null,
      queues: [...this.producers.values()].map((p) => ({
        queue: p.queue,
        paused: p.paused,
        limit: p.limit,
        running: p.claimed,
        lastFetchAt: p.lastFetchAt,
        lastFetchError: p.lastFetchError,
      })),
      ackBacklog: this.#acker.size,
      ackBacklogged: this.#acker.backlogged,
    };
  }

  /** This node's view of one of its queues, or null if it does not run it. */
  check(name: string): QueueCheck | null {
    const producer = this.producers.get(name);
    if (!producer) return null;
    return {
      queue: name,
      paused: producer.paused,
      limit: producer.limit,
      running: producer.claimed,
    };
  }

  /**
   * LISTENs for inserts and applies the stored pause and scale of each queue (then follows the
   * control channel), so that nothing is fetched before the queues are in their stored state.
   */
  async listen(): Promise<void> {
    const { listener: connection, options, reportError } = this.#options;
    const { producers } = this;
    if (producers.size === 0) return;
    const wakeAll = () => {
      for (const producer of producers.values()) producer.wake();
    };
    const listener = await listenReliably(
      connection,
      insertChannel(options.schema),
      (queue) => producers.get(queue)?.wake(),
      {
        checkIntervalMs: Math.min(listenerCheckMs, Math.max(1000, options.pollInterval)),
        // Inserts notified while the subscription was down were missed: fetch now.
        onListen: wakeAll,
        onError: (error) => reportError(error, "listener"),
      },
    );
    this.#unlisten = listener.unlisten;
    this.#hearing = listener.hearing;
    // Configured limits (flow control) are stored before the stored state is read below.
    await storeConfiguredFlows({
      sql: this.#options.sql,
      schema: options.schema,
      producers,
      configured: options.queues,
    });
    this.#control = new ControlListener(this.controlContext, (e) => reportError(e, "control"));
    await this.#control.start();
  }

  /** Starts fetching. */
  start(): void {
    for (const producer of this.producers.values()) producer.start();
  }

  /** Stops listening, then stops every producer within `graceMs` and stores all outcomes. */
  async stop(graceMs: number): Promise<void> {
    const { reportError } = this.#options;
    const { producers } = this;
    await this.#unlisten?.().catch((error: unknown) => reportError(error, "listener"));
    await this.#control?.stop().catch((error: unknown) => reportError(error, "control"));
    await Promise.all([...producers.values()].map((p) => p.stop(graceMs)));
    await this.#acker.flush();
    // After the outcomes: their last progress values went with them; notified here.
    await this.#progress.flush().catch((error: unknown) => reportError(error, "progress"));
  }
}

/** The runner's part of {@link JobRunner.health}. */
export interface RunnerHealth {
  listening: boolean | null;
  queues: {
    queue: string;
    paused: boolean;
    limit: number;
    running: number;
    lastFetchAt: Date | null;
    lastFetchError: string | null;
  }[];
  ackBacklog: number;
  ackBacklogged: boolean;
}
