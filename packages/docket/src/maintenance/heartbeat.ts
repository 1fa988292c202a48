import type { Sql } from "postgres";
import { answerWithin } from "../db/answer-within.js";
import { run } from "../sql/executor.js";
import {
  deleteNodeProducers,
  deleteStaleProducers,
  type HeartbeatRow,
  heartbeatProducers,
  type ProducerRow,
} from "../sql/maintenance/producers.js";
import { type LongTimer, setLongInterval } from "../validation/long-timer.js";

/** What a {@link Heartbeat} needs from its node. */
export interface HeartbeatConfig {
  executor: Sql;
  schema: string;
  node: string;
  intervalMs: number;
  /**
   * The heartbeat timeout: a beat still unanswered when the last one that succeeded is this old
   * is reported as a {@link DatabaseTimeoutError}, and the next beat is tried beside it.
   */
  timeoutMs?: number;
  /** The node's running queues and their concurrency, read at every beat. */
  queues: () => HeartbeatRow[];
  onError: (error: unknown) => void;
}

/**
 * Keeps this node's rows in `producers` fresh: one statement per beat for all of its queues.
 * The first beat is written before the node fetches any job, so every job in `executing` has
 * a producer row from the moment it is taken. The lifeline trusts these rows: while they are
 * fresh, the node's jobs are not rescued.
 */
export class Heartbeat {
  readonly #options: HeartbeatConfig;
  #timer: LongTimer | undefined;
  #beating: Promise<void> | undefined;
  #stopped = false;

  constructor(options: HeartbeatConfig) {
    this.#options = options;
  }

  /** Writes the first beat (throwing if it fails), then beats every interval. */
  async start(): Promise<void> {
    await this.beat();
    this.#timer = setLongInterval(() => {
      if (this.#beating) return;
      this.#beating = this.#beatWithin()
        .catch((error: unknown) => this.#options.onError(error))
        .finally(() => {
          this.#beating = undefined;
        });
    }, this.#options.intervalMs).unref();
  }

  /**
   * One beat that gives up waiting after `timeoutMs - intervalMs`: when the connection went
   * silent (packets dropped), the node hears of it by the time others count it as gone, and
   * the next beat is not held up behind the silent one.
   */
  #beatWithin(): Promise<void> {
    const { timeoutMs, intervalMs } = this.#options;
    if (timeoutMs === undefined) return this.beat();
    const waitMs = Math.max(intervalMs, timeoutMs - intervalMs);
    return answerWithin(
      this.beat(),
      waitMs,
      "this node's heartbeat (other nodes may rescue its jobs)",
    );
  }

  /** Refreshes the rows of all this node's queues in one statement. */
  async beat(): Promise<void> {
    const rows = this.#options.queues();
    if (rows.length === 0 || this.#stopped) return;
    const { executor, schema, node } = this.#options;
    await run(executor, heartbeatProducers(schema, node, rows));
  }

  /** Stops beating and deletes this node's rows: it runs no job any more. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.clear();
    await this.#beating;
    const { executor, schema, node } = this.#options;
    await run(executor, deleteNodeProducers(schema, node)).catch((error: unknown) =>
      this.#options.onError(error),
    );
  }
}

/**
 * Deletes the rows of producers that stopped heartbeating more than `timeoutMs` ago; run by the
 * leader. Their executing jobs, if any, are the lifeline's to rescue.
 */
export async function deleteStaleProducerRows(
  executor: Sql,
  schema: string,
  timeoutMs: number,
): Promise<ProducerRow[]> {
  return run(executor, deleteStaleProducers(schema, timeoutMs));
}
